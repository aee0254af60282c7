-- Multichannel and omnichannel rates per period, side by side (definitions in _kpi__docs.md,
-- blocks multichannel and channel_definitions): multichannel counts the channels customers
-- interacted through; omnichannel, the headline, whether buyers have bought both in store and
-- online (click & collect is ordered online) by the end of the period.
with customer_channels as (
    select * from {{ ref('int_customer_channels_by_period') }}
),

purchases as (
    select * from {{ ref('int_customer_purchases_by_period') }}
),

interacting as (
    select
        period_start,
        count(*) as active_customers,
        count(*) filter (where channel_count >= 2) as multichannel_customers,
        round(count(*) filter (where channel_count >= 2) / count(*), 4) as multichannel_rate,
        round(avg(channel_count), 3) as channels_per_active_customer
    from customer_channels
    group by period_start
),

buying as (
    select
        period_start,
        count(*) as buyers,
        count(*) filter (where segment = 'omnichannel') as omnichannel_buyers
    from purchases
    group by period_start
),

final as (
    select
        interacting.*,
        coalesce(buying.buyers, 0) as buyers,
        coalesce(buying.omnichannel_buyers, 0) as omnichannel_buyers,
        round(buying.omnichannel_buyers / nullif(buying.buyers, 0), 4) as omnichannel_rate
    from interacting
    left join buying on interacting.period_start = buying.period_start
)

select * from final
