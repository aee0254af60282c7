-- One row per customer: what they brought (net revenue, gross margin) against what serving them
-- cost over their whole history (definitions in _kpi__docs.md, block cost_to_serve). Lifetime and
-- descriptive: longer-standing customers have had more time to cost and to bring, so groups of
-- customers are compared in mart_cost_to_serve_by_channel_count, not here. The margin is
-- on merchandise without VAT (HT): VAT is collected for the state, and shipping is passed on at
-- cost, not sold at the merchandise margin.
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with customers as (
    select * from {{ ref('int_customer_profiles') }}
    where {{ only_affected_customers() }}
),

costs as (
    select
        customer_id,
        count(*) as interactions,
        sum(unit_cost_eur) as cost_to_serve
    from {{ ref('int_touchpoint_costs') }}
    where customer_id is not null and {{ only_affected_customers() }}
    group by customer_id
),

joined as (
    select
        customers.customer_id,
        customers.interaction_channel_count,
        customers.is_multichannel,
        customers.is_omnichannel,
        customers.orders,
        customers.lifetime_revenue as revenue,
        customers.lifetime_merchandise_revenue_ht as merchandise_revenue_ht,
        round(customers.lifetime_merchandise_revenue_ht * {{ var('gross_margin_rate') }}, 2) as gross_margin,
        coalesce(costs.interactions, 0) as interactions,
        coalesce(costs.cost_to_serve, 0) as cost_to_serve
    from customers
    left join costs on customers.customer_id = costs.customer_id
),

final as (
    select
        customer_id,
        interaction_channel_count,
        is_multichannel,
        is_omnichannel,
        orders,
        revenue,
        merchandise_revenue_ht,
        gross_margin,
        interactions,
        cost_to_serve,
        gross_margin - cost_to_serve as contribution_margin,
        round(cost_to_serve / nullif(merchandise_revenue_ht, 0), 4) as cost_to_serve_ratio
    from joined
)

select * from final
