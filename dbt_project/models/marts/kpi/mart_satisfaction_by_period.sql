-- NPS, CSAT and CES per period: global, per channel, per touchpoint, per service contact channel and
-- per store.
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
    union all
    -- Service surveys by the contact channel they rate: the same quality whatever the channel?
    select period_start, 'contact_channel', rated_contact_channel, {{ satisfaction_measures() }}
    from responses
    where rated_contact_channel is not null
    group by period_start, rated_contact_channel
    union all
    -- Per store: the surveys about a visit there, a till purchase or a click & collect pickup.
    select period_start, 'store', store_code, {{ satisfaction_measures() }}
    from responses
    where touchpoint in ('store_purchase', 'click_and_collect_pickup') and store_code is not null
    group by period_start, store_code
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
