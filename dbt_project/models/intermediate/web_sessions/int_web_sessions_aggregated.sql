-- One row per web session, from its events, with the customer once the visitor is identified.
-- Incremental (docs/dbt.md, "Incremental models"): a build aggregates again the sessions with an
-- event delivered since the last one (a session can span two deliveries) and gives a new customer
-- to the sessions whose customer changed.
{{ config(materialized='incremental', unique_key='session_id', full_refresh=full_refresh_at_as_of()) }}

with events as (
    select * from {{ ref('stg_ecommerce__web_events') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
),

account_customers as (
    select source_record_id as account_id, customer_id
    from customer_ids
    where source_system = 'ecommerce_customers'
),

visitor_customers as (
    select source_record_id as visitor_id, customer_id
    from customer_ids
    where source_system = 'ecommerce_visitors'
),

{% if is_incremental() %}
previous as (
    select session_id, account_id, visitor_id, customer_id from {{ this }}
),

to_build as (
    select session_id
    from events
    where loaded_at > {{ last_loaded_at() }}
    union
    -- Sessions whose customer (as in final, below) is no longer the one they were built with.
    select previous.session_id
    from previous
    left join account_customers on previous.account_id = account_customers.account_id
    left join visitor_customers on previous.visitor_id = visitor_customers.visitor_id
    where coalesce(account_customers.customer_id, visitor_customers.customer_id)
        is distinct from previous.customer_id
),

{% endif %}
sessions as (
    select
        session_id,
        any_value(visitor_id) as visitor_id,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        count(*) as events,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_cart_events,
        min(event_at) filter (where event_type = 'add_to_cart') as first_add_to_cart_at,
        bool_or(event_type = 'login') as has_login,
        bool_or(event_type = 'checkout_started') as has_checkout_started,
        bool_or(event_type = 'checkout_completed') as has_checkout_completed,
        any_value(order_id) filter (where event_type = 'checkout_completed') as order_id,
        any_value(account_id) filter (where account_id is not null) as account_id,
        arg_min(device, event_at) as device,
        arg_min(utm_source, event_at) as utm_source,
        max(loaded_at) as loaded_at
    from events
    {% if is_incremental() -%}
    where session_id in (select session_id from to_build)
    {%- endif %}
    group by session_id
),

final as (
    select
        sessions.*,
        -- The visitor is identified once any of its sessions logs in or checks out; a session
        -- that itself logged in belongs to that account's customer.
        coalesce(account_customers.customer_id, visitor_customers.customer_id) as customer_id,
        sessions.add_to_cart_events > 0 and not sessions.has_checkout_completed as is_cart_abandoned
    from sessions
    left join account_customers on sessions.account_id = account_customers.account_id
    left join visitor_customers on sessions.visitor_id = visitor_customers.visitor_id
)

select * from final
