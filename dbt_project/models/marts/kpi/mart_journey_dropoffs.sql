-- Where journeys stop: web sessions that left before adding to cart, carts not checked out,
-- service tickets without a resolution; and how many of the identified customers who stopped there
-- still bought, on any channel, within var('cross_channel_days') days (definitions in
-- _kpi__docs.md, block journeys). The points are disjoint: a session stops at one point at most
-- (its furthest step, macro session_furthest_step), so drop-offs add up across points.
with sessions as (
    select * from {{ ref('fct_web_sessions') }}
),

tickets as (
    select * from {{ ref('fct_service_tickets') }}
),

purchases as (
    select customer_id, occurred_at from {{ ref('fct_touchpoints') }}
    where touchpoint_type = 'order' and customer_id is not null
),

staged_sessions as (
    select *, {{ session_furthest_step() }} as furthest_step from sessions
),

-- One row per unit entering a point. Every session enters the first point; one that reached the
-- cart enters the second too, but it stops (is a drop-off) at one of them at most.
steps as (
    select
        'session_without_cart' as drop_off_point,
        'web_session' as journey_unit,
        true as is_entry_point,
        session_id as step_id, customer_id, started_at as occurred_at,
        furthest_step < 2 as is_drop_off
    from staged_sessions
    union all
    select 'cart_abandoned', 'web_session', false, session_id, customer_id, started_at, furthest_step < 4
    from staged_sessions
    where furthest_step >= 2
    union all
    select 'ticket_unresolved', 'service_ticket', true, ticket_id, customer_id, created_at, not is_resolved
    from tickets
),

followed as (
    select
        steps.*,
        exists (
            select 1 from purchases
            where purchases.customer_id = steps.customer_id
              and purchases.occurred_at > steps.occurred_at
              and purchases.occurred_at <= steps.occurred_at + to_days({{ var('cross_channel_days') }})
        ) as is_followed_by_purchase,
        -- Right-censoring: a drop-off whose days to recover are not all past at as_of cannot be
        -- judged yet (only its recoveries so far are known); it is counted apart, not as lost.
        steps.occurred_at + to_days({{ var('cross_channel_days') }}) <= {{ as_of() }} as is_window_closed
    from steps
    where steps.is_drop_off
),

entered as (
    select
        {{ kpi_period('occurred_at') }} as period_start,
        drop_off_point,
        journey_unit,
        is_entry_point,
        count(*) as entries
    from steps
    group by all
),

dropped as (
    select
        {{ kpi_period('occurred_at') }} as period_start,
        drop_off_point,
        count(*) as drop_offs,
        count(customer_id) as identified_drop_offs,
        count(customer_id) filter (where not is_window_closed) as open_recovery_windows,
        count(customer_id) filter (where is_window_closed) as judged_drop_offs,
        count(*) filter (where is_followed_by_purchase and is_window_closed) as followed_by_purchase
    from followed
    group by all
),

final as (
    select
        entered.period_start,
        entered.drop_off_point,
        entered.journey_unit,
        entered.is_entry_point,
        entered.entries,
        coalesce(dropped.drop_offs, 0) as drop_offs,
        {{ rate_interval('coalesce(dropped.drop_offs, 0)', 'entered.entries', 'drop_off_rate') }},
        coalesce(dropped.identified_drop_offs, 0) as identified_drop_offs,
        coalesce(dropped.open_recovery_windows, 0) as open_recovery_windows,
        coalesce(dropped.judged_drop_offs, 0) as judged_drop_offs,
        coalesce(dropped.followed_by_purchase, 0) as followed_by_purchase,
        {{ rate_interval('coalesce(dropped.followed_by_purchase, 0)', 'coalesce(dropped.judged_drop_offs, 0)', 'recovery_rate') }}
    from entered
    left join dropped
        on entered.period_start = dropped.period_start and entered.drop_off_point = dropped.drop_off_point
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
