-- Whose revenue each order's net amount is (definitions in _core__docs.md, block
-- revenue_attribution): a sale's own customer and channel; a till return's original sale's
-- customer and channel, whoever the return ticket names; a return whose original sale is not in
-- the data is unattributed (nobody's, on the channel it was brought back to). Every amount is
-- dated when it happened: a return in the period of the return. The one place revenue is
-- attributed: dim_customers, fct_orders and mart_net_revenue read it.
with orders as (
    select * from {{ ref('int_orders_unioned') }}
),

taxed_lines as (
    select * from {{ ref('int_order_lines_taxed') }}
),

vat_rates as (
    select * from {{ ref('vat_rates') }}
),

sales as (
    select order_id, customer_id, channel
    from orders
    where order_type = 'sale'
),

returns_matched as (
    -- Each till return with the sale it refunds, when that sale is in the data (a return that
    -- names another return, or nothing, matches none).
    select
        orders.order_id,
        sales.order_id as sale_order_id,
        sales.customer_id as sale_customer_id,
        sales.channel as sale_channel
    from orders
    inner join sales on orders.original_order_id = sales.order_id
    where orders.order_type = 'return'
),

attributed as (
    select
        orders.order_id,
        orders.order_type,
        orders.ordered_at as booked_at,
        case when orders.order_type = 'sale' then orders.order_id else returns_matched.sale_order_id end
            as sale_order_id,
        case when orders.order_type = 'sale' then orders.customer_id else returns_matched.sale_customer_id end
            as revenue_customer_id,
        case
            when orders.order_type = 'sale' then orders.channel
            else coalesce(returns_matched.sale_channel, orders.channel)
        end as revenue_channel,
        orders.order_type = 'return' and returns_matched.order_id is null as is_unattributed_return,
        orders.amount,
        orders.shipping_amount,
        orders.refunded_amount,
        orders.net_amount
    from orders
    left join returns_matched on orders.order_id = returns_matched.order_id
),

line_totals as (
    -- Each order's lines, tax included and without VAT, and the refunds on them.
    select
        order_id,
        sum(line_amount) as lines_amount,
        sum(line_amount_ht) as lines_amount_ht,
        sum(refunded_amount) as lines_refunded_amount,
        sum(refunded_amount_ht) as lines_refunded_amount_ht
    from taxed_lines
    group by order_id
),

vat_mixed as (
    -- The share of an order's merchandise that is not VAT (HT / TTC of its lines): a return's
    -- own lines (the universes brought back); a return without lines takes the mix of the sale it
    -- returns; an order with neither, the default rate of the seed vat_rates.
    select
        attributed.*,
        own.lines_amount,
        own.lines_amount_ht,
        own.lines_refunded_amount,
        own.lines_refunded_amount_ht,
        coalesce(
            own.lines_amount_ht / nullif(own.lines_amount, 0),
            sale.lines_amount_ht / nullif(sale.lines_amount, 0),
            1 / (1 + default_rate.vat_rate)
        ) as ht_share
    from attributed
    left join line_totals as own on attributed.order_id = own.order_id
    left join line_totals as sale
        on attributed.sale_order_id = sale.order_id and attributed.sale_order_id <> attributed.order_id
    left join vat_rates as default_rate on default_rate.universe is null
),

split as (
    -- Merchandise is the order's amount less shipping; its HT is the sum of its lines' when they
    -- add up to it, else the amount at the order's mix. Shipping follows the VAT of the goods it
    -- carries, pro rata (the French rule for an accessory to a mixed-rate supply). Web refunds are
    -- of lines (refunded quantities), so merchandise.
    select
        *,
        amount - shipping_amount as merchandise_amount,
        case
            when lines_amount = amount - shipping_amount then lines_amount_ht
            else round((amount - shipping_amount) * ht_share, 2)
        end::decimal(18, 2) as merchandise_amount_ht,
        round(shipping_amount * ht_share, 2)::decimal(18, 2) as shipping_amount_ht,
        case
            when lines_refunded_amount = refunded_amount then lines_refunded_amount_ht
            else round(refunded_amount * ht_share, 2)
        end::decimal(18, 2) as refunded_amount_ht
    from vat_mixed
),

final as (
    select
        order_id,
        order_type,
        booked_at,
        sale_order_id,
        revenue_customer_id,
        revenue_channel,
        is_unattributed_return,
        amount,
        shipping_amount,
        refunded_amount,
        net_amount,
        merchandise_amount + refunded_amount as net_merchandise_amount,
        merchandise_amount_ht + refunded_amount_ht as net_merchandise_amount_ht,
        shipping_amount_ht,
        merchandise_amount_ht + refunded_amount_ht + shipping_amount_ht as net_amount_ht,
        net_amount - (merchandise_amount_ht + refunded_amount_ht + shipping_amount_ht) as vat_amount
    from split
)

select * from final
