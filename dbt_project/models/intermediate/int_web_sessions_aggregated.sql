-- One row per web session, from its events, with the customer once the visitor is identified.
with events as (
    select * from {{ ref('stg_ecommerce__web_events') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
),

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
        arg_min(utm_source, event_at) as utm_source
    from events
    group by session_id
),

final as (
    select
        sessions.*,
        -- The visitor is identified once any of its sessions logs in or checks out; a session
        -- that itself logged in belongs to that account's customer.
        coalesce(accounts.customer_id, visitors.customer_id) as customer_id,
        sessions.add_to_cart_events > 0 and not sessions.has_checkout_completed as is_cart_abandoned
    from sessions
    left join customer_ids as accounts
        on accounts.source_system = 'ecommerce_customers' and sessions.account_id = accounts.source_record_id
    left join customer_ids as visitors
        on visitors.source_system = 'ecommerce_visitors' and sessions.visitor_id = visitors.source_record_id
)

select * from final
