-- The web checkout funnel per period and device (definitions in _kpi__docs.md, block
-- checkout_funnel): sessions by the furthest step they reached (product view → add to cart →
-- checkout started → order placed), the conversion of each step from the one before, and the
-- share of sessions whose visitor is identified (macro identification_coverage). One grain only:
-- counts add up across devices, rates are recomputed from the counts, never summed.
with sessions as (
    select * from {{ ref('fct_web_sessions') }}
),

coverage as (
    {{ identification_coverage(['web_session'], by=['device']) | indent(4) }}
),

staged as (
    select
        {{ kpi_period('started_at') }} as period_start,
        coalesce(device, 'unknown') as device,
        -- Each session counts once, at its furthest step.
        {{ session_furthest_step() }} as furthest_step
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
        count(*) filter (where furthest_step >= 4) as order_sessions
    from staged
    group by all
),

final as (
    select
        counted.period_start,
        counted.device,
        {{ is_partial_period('counted.period_start') }} as is_partial_period,
        counted.sessions,
        counted.product_view_sessions,
        counted.cart_sessions,
        counted.checkout_sessions,
        counted.order_sessions,
        {{ rate_interval('counted.product_view_sessions', 'counted.sessions', 'product_view_rate') }},
        {{ rate_interval('counted.cart_sessions', 'counted.product_view_sessions', 'add_to_cart_rate') }},
        {{ rate_interval('counted.checkout_sessions', 'counted.cart_sessions', 'checkout_rate') }},
        {{ rate_interval('counted.order_sessions', 'counted.checkout_sessions', 'checkout_completion_rate') }},
        {{ rate_interval('counted.order_sessions', 'counted.sessions', 'session_conversion_rate') }},
        coverage.identified_sessions,
        coverage.identified_session_share
    from counted
    inner join coverage on counted.period_start = coverage.period_start and counted.device = coverage.device
)

select * from final
