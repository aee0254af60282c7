with sessions as (
    select * from {{ ref('int_web_sessions_aggregated') }}
)

select
    session_id,
    visitor_id,
    customer_id,
    started_at,
    ended_at,
    events,
    product_views,
    add_to_cart_events,
    has_login,
    has_checkout_started,
    has_checkout_completed,
    is_cart_abandoned,
    order_id,
    device,
    utm_source
from sessions
