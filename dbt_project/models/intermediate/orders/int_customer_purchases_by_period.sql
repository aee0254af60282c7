-- One row per identified customer and KPI period in which they bought: the base of the
-- multichannel, omnichannel and retention KPIs. Purchase channels come from the seed `channels`
-- (definitions in _kpi__docs.md, block channel_definitions). Every flag is point in time: it
-- reads this period and earlier ones, never what the customer does later.
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with orders as (
    select customer_id, ordered_at, channel from {{ ref('int_orders_unioned') }}
    where order_type = 'sale' and customer_id is not null and {{ only_affected_customers() }}
),

channels as (
    select * from {{ ref('channels') }}
),

purchases as (
    select orders.*, channels.channel_group
    from orders
    inner join channels on orders.channel = channels.channel
    where channels.is_purchase_channel
),

by_period as (
    select
        customer_id,
        {{ kpi_period('ordered_at') }} as period_start,
        count(*) as orders,
        list_sort(list(distinct channel)) as purchase_channels,
        count(distinct channel) as purchase_channel_count,
        bool_or(channel_group = 'store') as bought_in_store,
        bool_or(channel_group = 'online') as bought_online
    from purchases
    group by all
),

final as (
    select
        customer_id,
        period_start,
        orders,
        purchase_channels,
        purchase_channel_count,
        -- Over the trailing var('trailing_months') months ending with this period.
        len(list_distinct(flatten(list(purchase_channels) over trailing_window))) as trailing_purchase_channel_count,
        case when bool_or(bought_in_store) over trailing_window and bool_or(bought_online) over trailing_window
             then 'omnichannel' else 'single_channel' end as trailing_segment,
        -- Since the first loaded day: grows with the history loaded (retention segments use it).
        case when bool_or(bought_in_store) over to_date and bool_or(bought_online) over to_date
             then 'omnichannel' else 'single_channel' end as segment,
        sum(orders) over to_date as cumulative_orders,
        min(period_start) over (partition by customer_id) as first_purchase_period,
        lag(period_start) over (partition by customer_id order by period_start) as previous_purchase_period
    from by_period
    window
        to_date as (
            partition by customer_id order by period_start
            rows between unbounded preceding and current row
        ),
        trailing_window as (partition by customer_id order by period_start {{ trailing_window_frame() }})
)

select * from final
