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

final as (
    select
        cohort_period,
        segment,
        {{ is_complete_history('cohort_period') }} as is_complete_history,
        periods_since_first,
        -- Every member of a cohort bought in its first period.
        first_value(active_customers) over cohort as cohort_customers,
        active_customers,
        round(active_customers / first_value(active_customers) over cohort, 4) as retention_share
    from activity
    window cohort as (partition by cohort_period, segment order by periods_since_first)
)

select * from final
