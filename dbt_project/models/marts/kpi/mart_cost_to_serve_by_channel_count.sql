-- Cost to serve against revenue and margin per customer, by the number of channels the customer
-- used (definitions in _kpi__docs.md, block cost_to_serve). Customers who never bought earn no
-- margin and cost what they interacted: the unprofitable share is given over all customers and
-- over buyers alone (most of the single-channel group never bought).
with customers as (
    select * from {{ ref('mart_customer_profitability') }}
),

final as (
    select
        interaction_channel_count,
        count(*) as customers,
        count(*) filter (where orders > 0) as buyers,
        round(sum(revenue) / count(*), 2) as revenue_per_customer,
        round(sum(merchandise_revenue_ht) / count(*), 2) as merchandise_revenue_ht_per_customer,
        round(sum(gross_margin) / count(*), 2) as gross_margin_per_customer,
        round(sum(cost_to_serve) / count(*), 2) as cost_to_serve_per_customer,
        round(sum(contribution_margin) / count(*), 2) as contribution_margin_per_customer,
        round(sum(cost_to_serve) / nullif(sum(merchandise_revenue_ht), 0), 4) as cost_to_serve_ratio,
        round(count(*) filter (where contribution_margin < 0) / count(*), 4) as unprofitable_share,
        round(
            count(*) filter (where orders > 0 and contribution_margin < 0)
            / nullif(count(*) filter (where orders > 0), 0),
            4
        ) as unprofitable_buyer_share
    from customers
    group by interaction_channel_count
)

select * from final
