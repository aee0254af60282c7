-- Incremental (docs/dbt.md, "Incremental models"): a build writes only the rows that differ from
-- what the model holds: new, delivered again, of another customer, or a return whose sale is of
-- another customer (revenue_customer_id, from int_order_revenue_attributed).
-- Its tests read the rows of the customers changed in the build and the anonymous rows
-- (docs/dbt.md, "Tests of a day"); depends_on: {{ ref('int_customer_changes') }}
{{ config(
    materialized='incremental',
    unique_key='order_id',
    full_refresh=full_refresh_at_as_of(),
    meta={'test_scope': 'changed_customers'},
) }}

with orders as (
    select * from {{ ref('int_orders_unioned') }}
),

revenue as (
    select * from {{ ref('int_order_revenue_attributed') }}
),

final as (
    select
        orders.order_id,
        orders.customer_id,
        orders.source_system,
        orders.channel,
        orders.fulfilment_method,
        orders.order_type,
        orders.original_order_id,
        orders.returned_order_channel,
        orders.store_code,
        orders.ordered_at,
        orders.ready_for_pickup_at,
        orders.collected_at,
        orders.amount,
        orders.shipping_amount,
        orders.refunded_amount,
        orders.net_amount,
        -- The same split into merchandise and shipping, with and without VAT (block
        -- vat_and_shipping in _core__docs.md).
        revenue.net_merchandise_amount,
        revenue.net_merchandise_amount_ht,
        revenue.shipping_amount_ht,
        revenue.net_amount_ht,
        revenue.vat_amount,
        -- Whose revenue net_amount is (a return: its original sale's customer and channel).
        revenue.revenue_customer_id,
        revenue.revenue_channel,
        revenue.is_unattributed_return,
        orders.payment_method
    from orders
    inner join revenue on orders.order_id = revenue.order_id
)

select * from final
{% if is_incremental() %}
except
select * from {{ this }}
{% endif %}
