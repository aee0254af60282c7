-- One row per identified purchase, with when the customer last used the other channel before it
-- (the latest web visit before a store purchase, the latest store interaction before a web one):
-- what mart_cross_channel_purchases counts (definitions in _kpi__docs.md, block cross_channel).
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
    where customer_id is not null and touchpoint_type <> 'survey' and {{ only_affected_customers() }}
),

timeline as (
    select
        *,
        -- The customer's latest web visit and latest store interaction strictly before this one.
        max(case when channel = 'web' and touchpoint_type = 'visit' then occurred_at end) over earlier
            as last_web_visit_at,
        max(case when channel = 'store' then occurred_at end) over earlier as last_store_visit_at
    from touchpoints
    window earlier as (
        partition by customer_id order by occurred_at, touchpoint_id
        rows between unbounded preceding and 1 preceding
    )
),

final as (
    select
        customer_id,
        touchpoint_id,
        {{ kpi_period('occurred_at') }} as period_start,
        case when channel = 'store' then 'web_to_store' else 'store_to_web' end as direction,
        occurred_at,
        case when channel = 'store' then last_web_visit_at else last_store_visit_at end as prepared_at
    from timeline
    where touchpoint_type = 'order'
)

select * from final
