-- Retention and repeat purchase per period, omnichannel vs single-channel customers
-- (definitions in _kpi__docs.md, block retention).
with purchases as (
    select * from {{ ref('int_customer_purchases_by_period') }}
),

periods as (
    select distinct period_start, segment from purchases
    union
    select distinct period_start, 'all' from purchases
),

-- Each buyer counted under their segment and under 'all'.
buyers as (
    select *, segment as reporting_segment from purchases
    union all
    select *, 'all' from purchases
),

at_end as (
    select
        period_start,
        reporting_segment as segment,
        count(*) as customers_at_end,
        count(*) filter (where first_purchase_period = period_start) as new_customers,
        count(*) filter (
            where previous_purchase_period = (period_start - interval '1 {{ var("kpi_period") }}')::date
        ) as retained_customers,
        count(*) filter (where cumulative_orders >= 2) as repeat_buyers
    from buyers
    group by all
),

at_start as (
    select
        (period_start + interval '1 {{ var("kpi_period") }}')::date as period_start,
        reporting_segment as segment,
        count(*) as customers_at_start
    from buyers
    group by all
),

final as (
    select
        periods.period_start,
        periods.segment,
        coalesce(at_start.customers_at_start, 0) as customers_at_start,
        coalesce(at_end.customers_at_end, 0) as customers_at_end,
        coalesce(at_end.new_customers, 0) as new_customers,
        coalesce(at_end.retained_customers, 0) as retained_customers,
        round(
            (coalesce(at_end.customers_at_end, 0) - coalesce(at_end.new_customers, 0))
            / nullif(at_start.customers_at_start, 0), 4
        ) as retention_rate,
        round(coalesce(at_end.retained_customers, 0) / nullif(at_start.customers_at_start, 0), 4)
            as cohort_retention_rate,
        round(coalesce(at_end.repeat_buyers, 0) / nullif(at_end.customers_at_end, 0), 4) as repeat_purchase_rate
    from periods
    left join at_end on periods.period_start = at_end.period_start and periods.segment = at_end.segment
    left join at_start on periods.period_start = at_start.period_start and periods.segment = at_start.segment
)

select * from final
