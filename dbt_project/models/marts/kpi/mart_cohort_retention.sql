-- Cohort retention: of the customers who first bought in a period, the share who bought again
-- 1, 2, ... periods later, omnichannel vs single-channel (definitions in _kpi__docs.md, block
-- retention). Segment 'all' sums both.
with purchases as (
    select * from {{ ref('int_customer_purchases_by_period') }}
),

activity as (
    select
        first_purchase_period as cohort_period,
        coalesce(segment, 'all') as segment,
        date_diff('{{ var("kpi_period") }}', first_purchase_period, period_start) as periods_since_first,
        count(*) as active_customers
    from purchases
    group by grouping sets ((cohort_period, segment, periods_since_first), (cohort_period, periods_since_first))
),

final as (
    select
        cohort_period,
        segment,
        periods_since_first,
        -- Every member of a cohort bought in its first period.
        first_value(active_customers) over cohort as cohort_customers,
        active_customers,
        round(active_customers / first_value(active_customers) over cohort, 4) as retention_share
    from activity
    window cohort as (partition by cohort_period, segment order by periods_since_first)
)

select * from final
