-- Customer value by the number of channels used over the customer's whole history
-- (definitions in _kpi__docs.md, block value_by_channel_count).
with customers as (
    select * from {{ ref('dim_customers') }}
),

final as (
    select
        interaction_channel_count,
        count(*) as customers,
        count(*) filter (where orders > 0) as buyers,
        sum(orders) as orders,
        sum(lifetime_revenue) as revenue,
        sum(lifetime_merchandise_revenue_ht) as merchandise_revenue_ht,
        {{ average_order_value('sum(lifetime_merchandise_revenue_ht)', 'sum(orders)') }} as average_order_value,
        round(sum(orders) / nullif(count(*) filter (where orders > 0), 0), 3) as purchase_frequency,
        round(sum(lifetime_revenue) / count(*), 2) as historical_clv,
        round(sum(lifetime_revenue) / nullif(count(*) filter (where orders > 0), 0), 2) as historical_clv_per_buyer,
        round(sum(lifetime_revenue) / sum(sum(lifetime_revenue)) over (), 4) as share_of_revenue
    from customers
    group by interaction_channel_count
)

select * from final
