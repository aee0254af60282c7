-- Incremental (docs/dbt.md, "Incremental models"): a build writes only the rows that differ from
-- what the model holds: new, delivered again, or of another customer.
-- Its tests read the rows of the customers changed in the build and the anonymous rows
-- (docs/dbt.md, "Tests of a day"); depends_on: {{ ref('int_customer_changes') }}
{{ config(
    materialized='incremental',
    unique_key='order_line_id',
    full_refresh=full_refresh_at_as_of(),
    meta={'test_scope': 'changed_customers'},
) }}

with lines as (
    select * from {{ ref('int_order_lines_taxed') }}
),

final as (
    select
        order_line_id,
        order_id,
        line_number,
        customer_id,
        channel,
        order_type,
        ordered_at,
        store_code,
        sku,
        product_title,
        quantity,
        unit_price,
        discount,
        universe,
        vat_rate,
        line_amount,
        line_amount_ht,
        line_vat_amount,
        refunded_quantity,
        refunded_amount,
        refunded_amount_ht
    from lines
)

select * from final
{% if is_incremental() %}
except
select * from {{ this }}
{% endif %}
