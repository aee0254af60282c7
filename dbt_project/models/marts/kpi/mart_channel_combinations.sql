-- Which combinations of channels active customers used, per period, ranked (1 = most common).
with customer_channels as (
    select * from {{ ref('int_customer_channels_by_period') }}
),

counted as (
    select period_start, array_to_string(channels, ' + ') as channel_combination, channel_count,
           count(*) as customers
    from customer_channels
    group by all
),

final as (
    select
        period_start,
        channel_combination,
        channel_count,
        customers,
        round(customers / sum(customers) over (partition by period_start), 4) as share_of_active_customers,
        row_number() over (
            partition by period_start order by customers desc, channel_combination
        ) as combination_rank
    from counted
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
