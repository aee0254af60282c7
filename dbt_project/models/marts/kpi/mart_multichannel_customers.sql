-- Multichannel rate per period: see the definition in _kpi__docs.md (block multichannel).
with customer_channels as (
    select * from {{ ref('int_customer_channels_by_period') }}
),

final as (
    select
        period_start,
        count(*) as active_customers,
        count(*) filter (where channel_count >= 2) as multichannel_customers,
        round(count(*) filter (where channel_count >= 2) / count(*), 4) as multichannel_rate,
        round(avg(channel_count), 3) as channels_per_active_customer
    from customer_channels
    group by period_start
)

select * from final
