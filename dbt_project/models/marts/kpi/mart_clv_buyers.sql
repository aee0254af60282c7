-- One row per buyer of the observation window: the purchase channels they bought in during it,
-- their tenure at the split date, and what they brought and cost in the value window that follows
-- (definitions in _kpi__docs.md, block value_by_channel_count). Channels are never counted over
-- the months whose value is measured: a customer whose second channel first appears in the value
-- window is a 1-channel buyer here.
with clv_window as (
    select * from {{ ref('mart_clv_window') }}
),

revenue as (
    select * from {{ ref('int_order_revenue_attributed') }}
),

channels as (
    select * from {{ ref('channels') }}
),

costs as (
    select * from {{ ref('int_touchpoint_costs') }}
),

identified_sales as (
    -- Every identified sale of a purchase channel up to the split: the observation window's, and
    -- the earlier ones that date the first purchase.
    select
        revenue.revenue_customer_id as customer_id,
        revenue.booked_at,
        revenue.revenue_channel as channel,
        channels.channel_group,
        revenue.booked_at > clv_window.observation_start_at as is_observed
    from revenue
    inner join channels on revenue.revenue_channel = channels.channel
    cross join clv_window
    where revenue.order_type = 'sale'
        and channels.is_purchase_channel
        and revenue.revenue_customer_id is not null
        and revenue.booked_at <= clv_window.split_at
),

observed as (
    -- Buyers: at least one sale in the observation window.
    select
        customer_id,
        list_sort(list(distinct channel) filter (where is_observed)) as purchase_channels,
        bool_or(channel_group = 'store') filter (where is_observed) as bought_in_store,
        bool_or(channel_group = 'online') filter (where is_observed) as bought_online,
        count(*) filter (where is_observed) as observation_orders,
        min(booked_at) as first_purchase_at
    from identified_sales
    group by customer_id
    having bool_or(is_observed)
),

value_sales as (
    {{ sales_netted_between('revenue', 'channels',
        '(select split_at from clv_window)', '(select value_end_at from clv_window)') }}
),

value_totals as (
    select
        customer_id,
        count(*) as value_orders,
        sum(net_amount) as value_net_revenue,
        sum(net_amount_ht) as value_net_revenue_ht,
        sum(net_merchandise_amount_ht) as value_net_merchandise_revenue_ht,
        sum(net_amount_ht) filter (where channel_group = 'store') as value_store_net_revenue_ht,
        sum(net_amount_ht) filter (where channel_group = 'online') as value_online_net_revenue_ht
    from value_sales
    where customer_id is not null
    group by customer_id
),

value_costs as (
    select customer_id, count(*) as value_interactions, sum(unit_cost_eur) as value_cost_to_serve
    from costs
    where customer_id is not null
        and occurred_at > (select split_at from clv_window)
        and occurred_at <= (select value_end_at from clv_window)
    group by customer_id
),

joined as (
    select
        observed.customer_id,
        observed.purchase_channels,
        len(observed.purchase_channels) as purchase_channel_count,
        case
            when observed.bought_in_store and observed.bought_online then 'omnichannel'
            when observed.bought_in_store then 'store_only'
            else 'online_only'
        end as purchase_segment,
        observed.observation_orders,
        observed.first_purchase_at,
        {{ whole_months_between('observed.first_purchase_at', 'clv_window.split_at') }} as tenure_months,
        coalesce(value_totals.value_orders, 0) as value_orders,
        coalesce(value_totals.value_net_revenue, 0) as value_net_revenue,
        coalesce(value_totals.value_net_revenue_ht, 0) as value_net_revenue_ht,
        coalesce(value_totals.value_net_merchandise_revenue_ht, 0) as value_net_merchandise_revenue_ht,
        coalesce(value_totals.value_store_net_revenue_ht, 0) as value_store_net_revenue_ht,
        coalesce(value_totals.value_online_net_revenue_ht, 0) as value_online_net_revenue_ht,
        coalesce(value_costs.value_interactions, 0) as value_interactions,
        coalesce(value_costs.value_cost_to_serve, 0) as value_cost_to_serve
    from observed
    cross join clv_window
    left join value_totals on observed.customer_id = value_totals.customer_id
    left join value_costs on observed.customer_id = value_costs.customer_id
),

final as (
    select
        customer_id,
        purchase_channels,
        purchase_channel_count,
        purchase_segment,
        observation_orders,
        first_purchase_at,
        tenure_months,
        case
            when tenure_months < 6 then '0-5 months'
            when tenure_months < 12 then '6-11 months'
            when tenure_months < 24 then '12-23 months'
            else '24+ months'
        end as tenure_band,
        case
            when tenure_months < 6 then 0
            when tenure_months < 12 then 6
            when tenure_months < 24 then 12
            else 24
        end as tenure_band_start_months,
        value_orders,
        value_net_revenue,
        value_net_revenue_ht,
        value_net_merchandise_revenue_ht,
        value_store_net_revenue_ht,
        value_online_net_revenue_ht,
        round(value_net_merchandise_revenue_ht * {{ var('gross_margin_rate') }}, 2) as value_gross_margin,
        value_interactions,
        value_cost_to_serve,
        round(value_net_merchandise_revenue_ht * {{ var('gross_margin_rate') }}, 2) - value_cost_to_serve
            as value_contribution_margin
    from joined
)

select * from final
