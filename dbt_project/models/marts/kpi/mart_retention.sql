-- Retention and repeat purchase per period, omnichannel vs single-channel customers
-- (definitions in _kpi__docs.md, block retention). Segment 'all' sums both.
with purchases as (
    select * from {{ ref('int_customer_purchases_by_period') }}
),

at_end as (
    select
        period_start,
        coalesce(segment, 'all') as segment,
        count(*) as customers_at_end,
        count(*) filter (where first_purchase_period = period_start) as new_customers,
        count(*) filter (
            where previous_purchase_period = (period_start - interval '1 {{ var("kpi_period") }}')::date
        ) as retained_customers,
        count(*) filter (where cumulative_orders >= 2) as repeat_buyers
    from purchases
    group by grouping sets ((period_start, segment), (period_start))
),

-- The customers of a period are the customers at the start of the next one.
at_start as (
    select
        (period_start + interval '1 {{ var("kpi_period") }}')::date as period_start,
        segment,
        customers_at_end as customers_at_start
    from at_end
),

final as (
    select
        at_end.period_start,
        at_end.segment,
        coalesce(at_start.customers_at_start, 0) as customers_at_start,
        at_end.customers_at_end,
        at_end.new_customers,
        at_end.retained_customers,
        round((at_end.customers_at_end - at_end.new_customers) / nullif(at_start.customers_at_start, 0), 4)
            as retention_rate,
        round(at_end.retained_customers / nullif(at_start.customers_at_start, 0), 4) as cohort_retention_rate,
        round(at_end.repeat_buyers / at_end.customers_at_end, 4) as repeat_purchase_rate
    from at_end
    left join at_start on at_end.period_start = at_start.period_start and at_end.segment = at_start.segment
)

select * from final
