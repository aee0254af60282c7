-- Channels each identified customer used in each KPI period (surveys rate a channel; they are
-- not one): the base of the multichannel KPIs.
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
),

final as (
    select
        {{ kpi_period('occurred_at') }} as period_start,
        customer_id,
        list_sort(list(distinct channel)) as channels,
        count(distinct channel) as channel_count
    from touchpoints
    where customer_id is not null and touchpoint_type <> 'survey' and {{ only_affected_customers() }}
    group by all
)

select * from final
