-- Cohort retention: of the customers who first bought in a period, the share who bought again
-- 1, 2, ... periods later, omnichannel vs single-channel (definitions in _kpi__docs.md, block
-- retention).
with purchases as (
    select * from {{ ref('int_customer_purchases_by_period') }}
),

buyers as (
    select *, segment as reporting_segment from purchases
    union all
    select *, 'all' from purchases
),

cohorts as (
    select first_purchase_period as cohort_period, reporting_segment as segment, count(*) as cohort_customers
    from buyers
    where period_start = first_purchase_period
    group by all
),

activity as (
    select
        first_purchase_period as cohort_period,
        reporting_segment as segment,
        date_diff('{{ var("kpi_period") }}', first_purchase_period, period_start) as periods_since_first,
        count(*) as active_customers
    from buyers
    group by all
),

final as (
    select
        activity.cohort_period,
        activity.segment,
        activity.periods_since_first,
        cohorts.cohort_customers,
        activity.active_customers,
        round(activity.active_customers / cohorts.cohort_customers, 4) as retention_share
    from activity
    inner join cohorts on activity.cohort_period = cohorts.cohort_period and activity.segment = cohorts.segment
)

select * from final
