-- Cohort retention, every customer whatever their segment: one row per first-purchase cohort and
-- number of periods since the first purchase (definitions in _kpi__docs.md, block retention). A
-- customer belongs to one cohort segment, so the customers here are the sums of
-- mart_cohort_retention_by_segment's and the shares are computed again from them.
with by_segment as (
    select * from {{ ref('mart_cohort_retention_by_segment') }}
),

activity as (
    select
        cohort_period,
        is_complete_history,
        periods_since_first,
        is_partial_period,
        sum(active_customers)::bigint as active_customers
    from by_segment
    group by cohort_period, is_complete_history, periods_since_first, is_partial_period
),

sized as (
    select
        cohort_period,
        is_complete_history,
        periods_since_first,
        is_partial_period,
        -- Every member of a cohort bought in its first period.
        first_value(active_customers) over cohort as cohort_customers,
        active_customers
    from activity
    window cohort as (partition by cohort_period order by periods_since_first)
),

final as (
    select
        *,
        {{ rate_interval('active_customers', 'cohort_customers', 'retention_share') | indent(4) }}
    from sized
)

select * from final
