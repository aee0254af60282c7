-- Every order line with its VAT rate and its amounts without VAT (HT): the exports give amounts
-- tax included (TTC); the rate is the line's product universe's (seed vat_rates, the default row
-- for a universe the seed does not list or a product not in the catalogue). Definitions in
-- _core__docs.md, block vat_and_shipping.
with lines as (
    select * from {{ ref('int_order_lines_unioned') }}
),

products as (
    select * from {{ ref('stg_ecommerce__products') }}
),

vat_rates as (
    select * from {{ ref('vat_rates') }}
),

rated as (
    select
        -- Without the raw load time: a table of its own, it would differ between two builds of
        -- the same files (int_order_lines_unioned keeps it for its incremental builds).
        lines.* exclude (loaded_at),
        products.universe,
        coalesce(universe_rate.vat_rate, default_rate.vat_rate) as vat_rate
    from lines
    left join products on lines.sku = products.sku
    left join vat_rates as universe_rate on products.universe = universe_rate.universe
    left join vat_rates as default_rate on default_rate.universe is null
),

final as (
    select
        *,
        round(line_amount / (1 + vat_rate), 2)::decimal(18, 2) as line_amount_ht,
        line_amount - round(line_amount / (1 + vat_rate), 2)::decimal(18, 2) as line_vat_amount,
        round(refunded_amount / (1 + vat_rate), 2)::decimal(18, 2) as refunded_amount_ht
    from rated
)

select * from final
