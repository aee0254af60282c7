-- Channels each identified customer used in each KPI period (surveys rate a channel; they are
-- not one): the base of the multichannel KPIs.
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
    where customer_id is not null and touchpoint_type <> 'survey'
    group by all
)

select * from final
