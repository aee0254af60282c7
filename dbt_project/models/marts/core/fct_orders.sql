-- Incremental (docs/dbt.md, "Incremental models"): a build writes only the rows that differ from
-- what the model holds: new, delivered again, or of another customer.
{{ config(materialized='incremental', unique_key='order_id') }}

with orders as (
    select * from {{ ref('int_orders_unioned') }}
),

final as (
    select
        order_id,
        customer_id,
        source_system,
        channel,
        fulfilment_method,
        order_type,
        original_order_id,
        returned_order_channel,
        store_code,
        ordered_at,
        ready_for_pickup_at,
        collected_at,
        amount,
        shipping_amount,
        refunded_amount,
        net_amount,
        payment_method
    from orders
)

select * from final
{% if is_incremental() %}
except
select * from {{ this }}
{% endif %}
