-- NPS, CSAT and CES per period: global, per channel and per touchpoint.
with responses as (
    select *, {{ kpi_period('submitted_at') }} as period_start
    from {{ ref('fct_survey_responses') }}
),

final as (
    select period_start, 'global' as level, 'all' as segment, {{ satisfaction_measures() }}
    from responses
    group by period_start
    union all
    select period_start, 'channel', channel, {{ satisfaction_measures() }}
    from responses
    group by period_start, channel
    union all
    select period_start, 'touchpoint', touchpoint, {{ satisfaction_measures() }}
    from responses
    group by period_start, touchpoint
)

select * from final
