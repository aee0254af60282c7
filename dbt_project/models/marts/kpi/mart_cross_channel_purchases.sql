-- Web-to-store and store-to-web: identified purchases prepared in the other channel within
-- var('cross_channel_days') days before (definitions in _kpi__docs.md, block cross_channel), and
-- what they cannot see: the period's share of till tickets, web sessions and web orders that name
-- a customer (macro identification_coverage).
with purchases as (
    select * from {{ ref('int_cross_channel_purchases') }}
),

coverage as (
    {{ identification_coverage(['till_ticket', 'web_session', 'web_order']) | indent(4) }}
),

windowed as (
    select
        *,
        coalesce(prepared_at >= occurred_at - to_days({{ var('cross_channel_days') }}), false)
            as is_prepared_in_other_channel
    from purchases
),

counted as (
    select
        period_start,
        direction,
        count(*) as purchases,
        count(*) filter (where is_prepared_in_other_channel) as prepared_in_other_channel,
        round(
            median(date_diff('minute', prepared_at, occurred_at)) filter (where is_prepared_in_other_channel)
            / 1440.0, 2
        ) as median_days_between
    from windowed
    group by all
),

final as (
    select
        counted.period_start,
        counted.direction,
        counted.purchases,
        counted.prepared_in_other_channel,
        {{ rate_interval('counted.prepared_in_other_channel', 'counted.purchases', 'cross_channel_rate') }},
        counted.median_days_between,
        -- The period's coverage, the same on both directions' rows.
        coverage.identified_till_ticket_share,
        coverage.identified_session_share,
        coverage.identified_web_order_share
    from counted
    left join coverage on counted.period_start = coverage.period_start
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
