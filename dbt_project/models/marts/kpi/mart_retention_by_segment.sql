-- Retention per period, omnichannel vs single-channel customers with point-in-time segments:
-- one row per period and segment (definitions in _kpi__docs.md, block retention; both segments
-- together in mart_retention, which sums these rows). Every rate is a share of a base that
-- contains its numerator: none can exceed 1. The 12-month retention is also given among repeat
-- buyers only: an omnichannel customer has bought at least twice, so comparing the segments over
-- every customer mostly measures that selection.
with purchases as (
    select * from {{ ref('int_customer_purchases_by_period') }}
),

periods as (
    select distinct
        period_start,
        (period_start + interval '1 {{ var("kpi_period") }}')::date as period_end
    from purchases
),

segments as (
    select unnest(['omnichannel', 'single_channel']) as segment
),

-- Buyers of the period, by their segment at its end.
active as (
    select
        period_start,
        segment,
        count(*) as active_customers,
        count(*) filter (where first_purchase_period = period_start) as new_customers,
        count(*) filter (where cumulative_orders >= 2) as repeat_buyers
    from purchases
    group by period_start, segment
),

-- The base of each retention measure, by the segment its customers had at the end of it:
-- last period's buyers; the buyers of the year before the last 12 months (segment at their last
-- purchase in that year: nothing changes after it within the year). A repeat buyer had made two
-- purchases or more by the end of the base.
bases as (
    select
        'period' as measure, periods.period_start, b.customer_id, b.segment,
        b.cumulative_orders >= 2 as is_repeat_buyer
    from periods
    inner join purchases as b
        on b.period_start = (periods.period_start - interval '1 {{ var("kpi_period") }}')::date
    union all
    select
        'year', periods.period_start, b.customer_id, arg_max(b.segment, b.period_start),
        max(b.cumulative_orders) >= 2
    from periods
    inner join purchases as b
        on b.period_start >= (periods.period_end - interval '24 months')::date
       and b.period_start < (periods.period_end - interval '12 months')::date
    group by all
),

-- Who bought again: in this period; in the 12 months up to its end.
returns as (
    select 'period' as measure, period_start, customer_id from purchases
    union all
    select distinct 'year', periods.period_start, l.customer_id
    from periods
    inner join purchases as l
        on l.period_start >= (periods.period_end - interval '12 months')::date
       and l.period_start < periods.period_end
),

retained as (
    select
        bases.measure,
        bases.period_start,
        bases.segment,
        count(*) as base_customers,
        count(returns.customer_id) as retained_customers,
        count(*) filter (where bases.is_repeat_buyer) as repeat_buyer_base_customers,
        count(returns.customer_id) filter (where bases.is_repeat_buyer) as repeat_buyer_retained_customers
    from bases
    left join returns
        on returns.measure = bases.measure
       and returns.period_start = bases.period_start
       and returns.customer_id = bases.customer_id
    group by bases.measure, bases.period_start, bases.segment
),

period_over_period as (
    select period_start, segment, base_customers as customers_at_start, retained_customers
    from retained where measure = 'period'
),

twelve_months as (
    select
        period_start,
        segment,
        base_customers as retention_base_12m,
        retained_customers as retained_12m,
        repeat_buyer_base_customers as repeat_buyer_retention_base_12m,
        repeat_buyer_retained_customers as repeat_buyer_retained_12m
    from retained where measure = 'year'
),

counted as (
    select
        periods.period_start,
        segments.segment,
        {{ is_complete_history('periods.period_start') }} as is_complete_history,
        {{ is_partial_period('periods.period_start') }} as is_partial_period,
        coalesce(active.active_customers, 0) as active_customers,
        coalesce(active.new_customers, 0) as new_customers,
        coalesce(period_over_period.customers_at_start, 0) as customers_at_start,
        coalesce(period_over_period.retained_customers, 0) as retained_customers,
        coalesce(active.repeat_buyers, 0) as repeat_buyers,
        coalesce(twelve_months.retention_base_12m, 0) as retention_base_12m,
        coalesce(twelve_months.retained_12m, 0) as retained_12m,
        coalesce(twelve_months.repeat_buyer_retention_base_12m, 0) as repeat_buyer_retention_base_12m,
        coalesce(twelve_months.repeat_buyer_retained_12m, 0) as repeat_buyer_retained_12m
    from periods
    cross join segments
    left join active
        on active.period_start = periods.period_start and active.segment = segments.segment
    left join period_over_period
        on period_over_period.period_start = periods.period_start and period_over_period.segment = segments.segment
    left join twelve_months
        on twelve_months.period_start = periods.period_start and twelve_months.segment = segments.segment
),

final as (
    select
        period_start,
        segment,
        is_complete_history,
        is_partial_period,
        {{ retention_measures() | indent(4) }}
    from counted
)

select * from final
