-- Active customers per period by the number of channels they used.
with customer_channels as (
    select * from {{ ref('int_customer_channels_by_period') }}
),

counted as (
    select period_start, channel_count, count(*) as customers
    from customer_channels
    group by all
),

final as (
    select
        period_start,
        channel_count,
        customers,
        round(customers / sum(customers) over (partition by period_start), 4) as share_of_active_customers
    from counted
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
