-- Cohort retention: of the customers who first bought in a period, the share who bought again
-- 1, 2, ... periods later, omnichannel vs single-channel as they were at the end of their first
-- period: one row per cohort, segment and periods since the first purchase (definitions in
-- _kpi__docs.md, block retention; both segments together in mart_cohort_retention).
with purchases as (
    select
        *,
        -- The cohort segment is fixed at the end of the first period: point in time.
        first_value(segment) over (partition by customer_id order by period_start) as cohort_segment
    from {{ ref('int_customer_purchases_by_period') }}
),

activity as (
    select
        first_purchase_period as cohort_period,
        cohort_segment as segment,
        date_diff('{{ var("kpi_period") }}', first_purchase_period, period_start) as periods_since_first,
        count(*) as active_customers
    from purchases
    group by all
),

cohorts as (
    select cohort_period, segment, active_customers as cohort_customers
    from activity
    where periods_since_first = 0
),

-- Every period from the cohort's first to the latest with a purchase, also those in which nobody
-- of the cohort bought (a zero is a figure: a missing row would read as "no data").
grid as (
    select
        cohort_period,
        segment,
        cohort_customers,
        unnest(generate_series(
            0, date_diff('{{ var("kpi_period") }}', cohort_period, (select max(period_start) from purchases))
        )) as periods_since_first
    from cohorts
),

final as (
    select
        grid.cohort_period,
        grid.segment,
        {{ is_complete_history('grid.cohort_period') }} as is_complete_history,
        grid.periods_since_first,
        -- The period observed (the cohort's first plus periods_since_first) was still running.
        {{ is_partial_period("(grid.cohort_period + grid.periods_since_first * interval '1 " ~ var("kpi_period") ~ "')::date") }}
            as is_partial_period,
        grid.cohort_customers,
        coalesce(activity.active_customers, 0) as active_customers,
        {{ rate_interval('coalesce(activity.active_customers, 0)', 'grid.cohort_customers', 'retention_share') }}
    from grid
    left join activity
        on grid.cohort_period = activity.cohort_period
        and grid.segment = activity.segment
        and grid.periods_since_first = activity.periods_since_first
)

select * from final
