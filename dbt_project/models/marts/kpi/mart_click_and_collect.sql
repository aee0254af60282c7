-- Click & collect per period: share of web orders, time from ready to collected, late pickups,
-- satisfaction after pickup (definitions in _kpi__docs.md, block click_and_collect).
with orders as (
    select *, {{ kpi_period('ordered_at') }} as period_start
    from {{ ref('fct_orders') }}
    where source_system = 'ecommerce'
),

pickup_surveys as (
    select
        {{ kpi_period('submitted_at') }} as period_start,
        {{ satisfaction_measures() }}
    from {{ ref('fct_survey_responses') }}
    where touchpoint = 'click_and_collect_pickup'
    group by all
),

measured as (
    select
        period_start,
        count(*) as web_orders,
        count(*) filter (where channel = 'click_and_collect') as click_and_collect_orders,
        {{ rate_interval("count(*) filter (where channel = 'click_and_collect')", 'count(*)', 'click_and_collect_share') }},
        count(collected_at) as collected_orders,
        round(median(date_diff('minute', ready_for_pickup_at, collected_at)) / 60.0, 1)
            as median_hours_ready_to_collected,
        round(quantile_cont(date_diff('minute', ready_for_pickup_at, collected_at), 0.9) / 60.0, 1)
            as p90_hours_ready_to_collected,
        count(*) filter (
            where channel = 'click_and_collect' and ready_for_pickup_at is not null
              and coalesce(collected_at, {{ as_of() }}) > ready_for_pickup_at + to_days({{ var('late_pickup_days') }})
        ) as late_pickups
    from orders
    group by period_start
),

final as (
    select
        measured.*,
        {{ rate_interval('measured.late_pickups', 'measured.click_and_collect_orders', 'late_pickup_rate') }},
        coalesce(pickup_surveys.responses, 0) as pickup_survey_responses,
        coalesce(pickup_surveys.nps_responses, 0) as pickup_nps_responses,
        pickup_surveys.nps as pickup_nps,
        pickup_surveys.nps_ci_low as pickup_nps_ci_low,
        pickup_surveys.nps_ci_high as pickup_nps_ci_high,
        coalesce(pickup_surveys.csat_responses, 0) as pickup_csat_responses,
        pickup_surveys.csat as pickup_csat,
        pickup_surveys.csat_ci_low as pickup_csat_ci_low,
        pickup_surveys.csat_ci_high as pickup_csat_ci_high,
        coalesce(pickup_surveys.is_reliable, false) as pickup_is_reliable
    from measured
    left join pickup_surveys on measured.period_start = pickup_surveys.period_start
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
