-- Multichannel and omnichannel rates per period (definitions in _kpi__docs.md, blocks
-- multichannel and channel_definitions). The headline rates count buyers and purchase channels;
-- the interaction-based figures (visits, service contacts, pickups count) carry "interaction" in
-- their name. Beside them, what they cannot see: the period's share of till tickets, web sessions,
-- web orders and service tickets that name a customer (macro identification_coverage).
with customer_channels as (
    select * from {{ ref('int_customer_channels_by_period') }}
),

purchases as (
    select * from {{ ref('int_customer_purchases_by_period') }}
),

coverage as (
    {{ identification_coverage(['till_ticket', 'web_order', 'web_session', 'service_ticket']) | indent(4) }}
),

interacting as (
    select
        period_start,
        count(*) as active_customers,
        count(*) filter (where channel_count >= 2) as interaction_multichannel_customers,
        round(avg(channel_count), 3) as channels_per_active_customer
    from customer_channels
    group by period_start
),

buying as (
    select
        period_start,
        count(*) as buyers,
        count(*) filter (where purchase_channel_count >= 2) as multichannel_buyers,
        count(*) filter (where trailing_purchase_channel_count >= 2) as trailing_multichannel_buyers,
        count(*) filter (where trailing_segment = 'omnichannel') as omnichannel_buyers,
        count(*) filter (where segment = 'omnichannel') as cumulative_omnichannel_buyers
    from purchases
    group by period_start
),

joined as (
    select
        interacting.*,
        coalesce(buying.buyers, 0) as buyers,
        coalesce(buying.multichannel_buyers, 0) as multichannel_buyers,
        coalesce(buying.trailing_multichannel_buyers, 0) as trailing_multichannel_buyers,
        coalesce(buying.omnichannel_buyers, 0) as omnichannel_buyers,
        coalesce(buying.cumulative_omnichannel_buyers, 0) as cumulative_omnichannel_buyers,
        coverage.identified_till_ticket_share,
        coverage.identified_web_order_share,
        coverage.identified_session_share,
        coverage.identified_service_ticket_share
    from interacting
    left join buying on interacting.period_start = buying.period_start
    left join coverage on interacting.period_start = coverage.period_start
),

final as (
    select
        period_start,
        {{ is_partial_period('period_start') }} as is_partial_period,
        {{ is_complete_window('period_start') }} as is_complete_window,
        buyers,
        multichannel_buyers,
        {{ rate_interval('multichannel_buyers', 'buyers', 'multichannel_rate') }},
        omnichannel_buyers,
        {{ rate_interval('omnichannel_buyers', 'buyers', 'omnichannel_rate') }},
        trailing_multichannel_buyers,
        {{ rate_interval('trailing_multichannel_buyers', 'buyers', 'trailing_multichannel_rate') }},
        cumulative_omnichannel_buyers,
        {{ rate_interval('cumulative_omnichannel_buyers', 'buyers', 'cumulative_omnichannel_rate') }},
        active_customers,
        interaction_multichannel_customers,
        {{ rate_interval('interaction_multichannel_customers', 'active_customers', 'interaction_multichannel_rate') }},
        channels_per_active_customer,
        identified_till_ticket_share,
        identified_web_order_share,
        identified_session_share,
        identified_service_ticket_share
    from joined
)

select * from final
