-- Cost to serve against revenue and margin per customer, by the number of channels the customer
-- used (definitions in _kpi__docs.md, block cost_to_serve).
with customers as (
    select * from {{ ref('mart_customer_profitability') }}
),

final as (
    select
        interaction_channel_count,
        count(*) as customers,
        round(sum(revenue) / count(*), 2) as revenue_per_customer,
        round(sum(gross_margin) / count(*), 2) as gross_margin_per_customer,
        round(sum(cost_to_serve) / count(*), 2) as cost_to_serve_per_customer,
        round(sum(contribution_margin) / count(*), 2) as contribution_margin_per_customer,
        round(sum(cost_to_serve) / nullif(sum(revenue), 0), 4) as cost_to_serve_ratio,
        round(count(*) filter (where contribution_margin < 0) / count(*), 4) as unprofitable_share
    from customers
    group by interaction_channel_count
)

select * from final
