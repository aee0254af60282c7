-- One row per identified customer and KPI period in which they bought: the base of retention.
-- segment is the customer's lifetime channel use (dim_customers.is_omnichannel).
with orders as (
    select customer_id, ordered_at from {{ ref('int_orders_unioned') }}
    where order_type = 'sale' and customer_id is not null
),

customers as (
    select customer_id, is_omnichannel from {{ ref('dim_customers') }}
),

by_period as (
    select
        customer_id,
        {{ kpi_period('ordered_at') }} as period_start,
        count(*) as orders
    from orders
    group by all
),

final as (
    select
        by_period.customer_id,
        by_period.period_start,
        case when customers.is_omnichannel then 'omnichannel' else 'single_channel' end as segment,
        by_period.orders,
        sum(by_period.orders) over customer_periods as cumulative_orders,
        min(by_period.period_start) over (partition by by_period.customer_id) as first_purchase_period,
        lag(by_period.period_start) over customer_periods as previous_purchase_period
    from by_period
    inner join customers on by_period.customer_id = customers.customer_id
    window customer_periods as (
        partition by by_period.customer_id order by by_period.period_start
        rows between unbounded preceding and current row
    )
)

select * from final
