-- Till tickets and web orders in one grain: one row per order (a sale or a store return).
-- Incremental (docs/dbt.md, "Incremental models"): a build rewrites only what changed since the
-- last one (the filter at the end).
{{ config(materialized='incremental', unique_key='order_id', full_refresh=full_refresh_at_as_of()) }}

with tickets as (
    select * from {{ ref('stg_pos__tickets') }}
),

web_orders as (
    select * from {{ ref('stg_ecommerce__orders') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
),

store_orders as (
    select
        tickets.ticket_id as order_id,
        'pos' as source_system,
        'store' as channel,
        'in_store' as fulfilment_method,
        tickets.ticket_type as order_type,
        tickets.original_ticket_id as original_order_id,
        tickets.store_code,
        tickets.sold_at as ordered_at,
        null::timestamptz as ready_for_pickup_at,
        null::timestamptz as collected_at,
        tickets.amount,
        0::decimal(18, 2) as shipping_amount,
        0::decimal(18, 2) as refunded_amount,
        tickets.payment_method,
        customer_ids.customer_id,
        tickets.loaded_at
    from tickets
    left join customer_ids
        on customer_ids.source_system = 'pos_tickets' and tickets.ticket_id = customer_ids.source_record_id
),

online_orders as (
    select
        web_orders.order_id,
        'ecommerce' as source_system,
        case when web_orders.fulfilment_method = 'store_pickup' then 'click_and_collect' else 'web' end
            as channel,
        web_orders.fulfilment_method,
        'sale' as order_type,
        null as original_order_id,
        web_orders.pickup_store_code as store_code,
        web_orders.ordered_at,
        web_orders.ready_for_pickup_at,
        web_orders.collected_at,
        web_orders.total as amount,
        web_orders.shipping as shipping_amount,
        web_orders.refunded_amount,
        null as payment_method,
        customer_ids.customer_id,
        web_orders.loaded_at
    from web_orders
    left join customer_ids
        on customer_ids.source_system = 'ecommerce_orders' and web_orders.order_id = customer_ids.source_record_id
),

unioned as (
    select * from store_orders
    union all
    select * from online_orders
),

final as (
    select
        unioned.*,
        unioned.amount + unioned.refunded_amount as net_amount,
        -- A return's original order may be a till ticket or, brought back to a store, a web order.
        original.channel as returned_order_channel
    from unioned
    left join unioned as original
        on unioned.order_type = 'return' and unioned.original_order_id = original.order_id
    {% if is_incremental() -%}
    left join {{ this }} as previous on unioned.order_id = previous.order_id
    -- Orders delivered since the last build (new, or a new version of one), returns of those, and
    -- orders whose customer changed (identity merged or split their customer).
    where unioned.loaded_at > {{ last_loaded_at() }}
        or original.loaded_at > {{ last_loaded_at() }}
        or unioned.customer_id is distinct from previous.customer_id
    {%- endif %}
)

select * from final
