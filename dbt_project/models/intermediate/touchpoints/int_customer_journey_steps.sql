-- An identified customer's journey in steps, one row per step: what the journey marts count
-- transitions and paths between (definitions in _kpi__docs.md, block journeys). A step is one
-- visit: a web session with its cart and the order it placed, on that order's channel (a session
-- that placed a click & collect order is a click & collect purchase, not a web visit followed by
-- a switch); a till ticket, a return, a pickup, a service ticket. Survey answers rate a step,
-- they are not one.
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed
-- (a customer's steps read only their own touchpoints, and the session that placed each of their
-- orders, which int_customer_changes counts for the order's customer).
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
    where customer_id is not null and touchpoint_type <> 'survey' and {{ only_affected_customers() }}
),

checkout_sessions as (
    select session_id, order_id from {{ ref('int_web_sessions_aggregated') }}
    where order_id is not null
),

-- A visit and its cart belong to their session; an online order to the session that placed it
-- (order ids are unique across till and web); anything else is a step of its own.
assigned as (
    select
        touchpoints.*,
        case
            when touchpoints.touchpoint_type in ('visit', 'cart') then 'visit:' || touchpoints.source_record_id
            when checkout_sessions.session_id is not null then 'visit:' || checkout_sessions.session_id
            else touchpoints.touchpoint_id
        end as step_id
    from touchpoints
    left join checkout_sessions
        on touchpoints.touchpoint_type = 'order' and touchpoints.source_record_id = checkout_sessions.order_id
),

grouped as (
    select
        customer_id,
        step_id,
        min(occurred_at) as started_at,
        -- A step that placed an order is on the order's channel.
        coalesce(any_value(channel) filter (where touchpoint_type = 'order'), any_value(channel)) as channel,
        any_value(touchpoint_id) filter (where touchpoint_type = 'order') as order_touchpoint_id,
        any_value(source_record_id) filter (where touchpoint_type = 'order') as order_id,
        any_value(occurred_at) filter (where touchpoint_type = 'order') as ordered_at,
        any_value(amount) filter (where touchpoint_type = 'order') as order_amount
    from assigned
    group by customer_id, step_id
),

final as (
    select
        customer_id,
        step_id,
        started_at,
        channel,
        order_touchpoint_id,
        order_id,
        ordered_at,
        order_amount,
        -- The touchpoint a survey about this step rates: its order, else the step's one touchpoint
        -- (a pickup, a service ticket).
        coalesce(order_touchpoint_id, step_id) as rated_touchpoint_id,
        lag(channel) over customer_steps as previous_channel,
        lag(started_at) over customer_steps as previous_started_at
    from grouped
    window customer_steps as (partition by customer_id order by started_at, step_id)
)

select * from final
