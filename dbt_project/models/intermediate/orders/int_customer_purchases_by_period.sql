-- One row per identified customer and KPI period in which they bought: the base of retention.
-- segment is point in time: 'omnichannel' once the customer has bought both in store and online
-- (click & collect is ordered online) by the end of this period, never because of what they do
-- later (definitions in _kpi__docs.md, block channel_definitions).
with orders as (
    select customer_id, ordered_at, channel from {{ ref('int_orders_unioned') }}
    where order_type = 'sale' and customer_id is not null
),

by_period as (
    select
        customer_id,
        {{ kpi_period('ordered_at') }} as period_start,
        count(*) as orders,
        bool_or(channel = 'store') as bought_in_store,
        bool_or(channel <> 'store') as bought_online
    from orders
    group by all
),

final as (
    select
        customer_id,
        period_start,
        case when bool_or(bought_in_store) over to_date and bool_or(bought_online) over to_date
             then 'omnichannel' else 'single_channel' end as segment,
        orders,
        sum(orders) over to_date as cumulative_orders,
        min(period_start) over (partition by customer_id) as first_purchase_period,
        lag(period_start) over (partition by customer_id order by period_start) as previous_purchase_period
    from by_period
    window to_date as (
        partition by customer_id order by period_start
        rows between unbounded preceding and current row
    )
)

select * from final
