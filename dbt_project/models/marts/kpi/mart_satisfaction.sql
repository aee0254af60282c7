-- NPS, CSAT and CES over all periods: global, per channel, per touchpoint, per service contact
-- channel and per store, with response counts; touchpoints ranked as irritants (highest detractor
-- share first) and as sources of delight (highest promoter share first).
with responses as (
    select * from {{ ref('fct_survey_responses') }}
),

measured as (
    select 'global' as level, 'all' as segment, {{ satisfaction_measures() }}
    from responses
    union all
    select 'channel', channel, {{ satisfaction_measures() }}
    from responses
    group by channel
    union all
    select 'touchpoint', touchpoint, {{ satisfaction_measures() }}
    from responses
    group by touchpoint
    union all
    -- Service surveys by the contact channel they rate: the same quality whatever the channel?
    select 'contact_channel', rated_contact_channel, {{ satisfaction_measures() }}
    from responses
    where rated_contact_channel is not null
    group by rated_contact_channel
    union all
    -- Per store: the surveys about a visit there, a till purchase or a click & collect pickup.
    select 'store', store_code, {{ satisfaction_measures() }}
    from responses
    where touchpoint in ('store_purchase', 'click_and_collect_pickup') and store_code is not null
    group by store_code
),

final as (
    select
        *,
        case when level = 'touchpoint' and nps_responses > 0 then
            rank() over (partition by level, nps_responses > 0 order by detractor_share desc)
        end as irritant_rank,
        case when level = 'touchpoint' and nps_responses > 0 then
            rank() over (partition by level, nps_responses > 0 order by promoter_share desc)
        end as delight_rank
    from measured
)

select * from final
