-- One row per customer: what they brought (net revenue, gross margin) against what serving them
-- cost over their whole history (definitions in _kpi__docs.md, block cost_to_serve).
with customers as (
    select * from {{ ref('dim_customers') }}
),

costs as (
    select
        customer_id,
        count(*) as interactions,
        sum(unit_cost_eur) as cost_to_serve
    from {{ ref('int_touchpoint_costs') }}
    where customer_id is not null
    group by customer_id
),

final as (
    select
        customers.customer_id,
        customers.interaction_channel_count,
        customers.is_multichannel,
        customers.is_omnichannel,
        customers.orders,
        customers.lifetime_revenue as revenue,
        round(customers.lifetime_revenue * {{ var('gross_margin_rate') }}, 2) as gross_margin,
        coalesce(costs.interactions, 0) as interactions,
        coalesce(costs.cost_to_serve, 0) as cost_to_serve,
        round(customers.lifetime_revenue * {{ var('gross_margin_rate') }} - coalesce(costs.cost_to_serve, 0), 2)
            as contribution_margin,
        round(coalesce(costs.cost_to_serve, 0) / nullif(customers.lifetime_revenue, 0), 4)
            as cost_to_serve_ratio
    from customers
    left join costs on customers.customer_id = costs.customer_id
)

select * from final
