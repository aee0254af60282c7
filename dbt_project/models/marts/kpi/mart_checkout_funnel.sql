-- The web checkout funnel per period and device (definitions in _kpi__docs.md, block
-- checkout_funnel): sessions by the furthest step they reached (product view → add to cart →
-- checkout started → order placed), the conversion of each step from the one before, and the
-- share of sessions whose visitor is identified. One grain only: counts add up across devices,
-- rates are recomputed from the counts, never summed.
with sessions as (
    select * from {{ ref('fct_web_sessions') }}
),

staged as (
    select
        {{ kpi_period('started_at') }} as period_start,
        coalesce(device, 'unknown') as device,
        -- A later step implies the earlier ones (a cart link opened straight into checkout still
        -- went through it), so each session counts once, at its furthest step.
        case
            when has_checkout_completed then 4
            when has_checkout_started then 3
            when add_to_cart_events > 0 then 2
            when product_views > 0 then 1
            else 0
        end as furthest_step,
        customer_id is not null as is_identified
    from sessions
),

counted as (
    select
        period_start,
        device,
        count(*) as sessions,
        count(*) filter (where furthest_step >= 1) as product_view_sessions,
        count(*) filter (where furthest_step >= 2) as cart_sessions,
        count(*) filter (where furthest_step >= 3) as checkout_sessions,
        count(*) filter (where furthest_step >= 4) as order_sessions,
        count(*) filter (where is_identified) as identified_sessions
    from staged
    group by all
),

final as (
    select
        period_start,
        device,
        {{ is_partial_period('period_start') }} as is_partial_period,
        sessions,
        product_view_sessions,
        cart_sessions,
        checkout_sessions,
        order_sessions,
        {{ rate_interval('product_view_sessions', 'sessions', 'product_view_rate') }},
        {{ rate_interval('cart_sessions', 'product_view_sessions', 'add_to_cart_rate') }},
        {{ rate_interval('checkout_sessions', 'cart_sessions', 'checkout_rate') }},
        {{ rate_interval('order_sessions', 'checkout_sessions', 'checkout_completion_rate') }},
        {{ rate_interval('order_sessions', 'sessions', 'session_conversion_rate') }},
        identified_sessions,
        round(identified_sessions / sessions, 4) as identified_session_share
    from counted
)

select * from final
