-- Cost to serve per order and per euro of net merchandise revenue HT, per period and channel of
-- the sale (definitions in _kpi__docs.md, block cost_per_order): every priced interaction counted
-- in the channel of the sale it serves (int_touchpoint_costs.allocated_channel), so a call about
-- a web order is a web cost; service tickets naming no order of the data on their own line,
-- channel service, never spread over the sales channels.
with costs as (
    select * from {{ ref('int_touchpoint_costs') }}
),

net_revenue as (
    select * from {{ ref('mart_net_revenue') }}
),

allocated as (
    select
        period_start,
        allocated_channel as channel,
        sum(unit_cost_eur) as cost_eur,
        count(*) filter (where touchpoint_type = 'ticket') as service_tickets,
        coalesce(sum(unit_cost_eur) filter (where touchpoint_type = 'ticket'), 0) as service_cost_eur
    from costs
    group by period_start, allocated_channel
),

joined as (
    select
        coalesce(allocated.period_start, net_revenue.period_start) as period_start,
        coalesce(allocated.channel, net_revenue.channel) as channel,
        coalesce(net_revenue.sales, 0) as orders,
        coalesce(net_revenue.net_merchandise_revenue_ht, 0) as net_merchandise_revenue_ht,
        coalesce(allocated.cost_eur, 0) as cost_eur,
        coalesce(allocated.service_tickets, 0) as service_tickets,
        coalesce(allocated.service_cost_eur, 0) as service_cost_eur
    from allocated
    full outer join net_revenue
        on allocated.period_start = net_revenue.period_start and allocated.channel = net_revenue.channel
),

final as (
    select
        period_start,
        channel,
        channel = 'service' as is_unallocated,
        orders,
        net_merchandise_revenue_ht,
        cost_eur,
        service_tickets,
        service_cost_eur,
        round(cost_eur / nullif(orders, 0), 2) as cost_per_order,
        -- Only over positive revenue: a period whose returns outweigh its sales has no ratio.
        case when net_merchandise_revenue_ht > 0 then round(cost_eur / net_merchandise_revenue_ht, 4) end
            as cost_to_serve_ratio
    from joined
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
