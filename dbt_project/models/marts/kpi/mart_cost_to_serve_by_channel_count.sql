-- Cost to serve against revenue and margin per buyer, by the number of purchase channels the
-- buyer used in the observation window, measured over the value window that follows (definitions
-- in _kpi__docs.md, block cost_to_serve): the same buyers and windows as
-- mart_value_by_channel_count, so channels are not credited with the tenure that lets a customer
-- try them. Every buyer is counted, including those who bought nothing in the value window (they
-- earn no margin there and cost what they interacted).
with buyers as (
    select * from {{ ref('mart_clv_buyers') }}
),

clv_window as (
    select * from {{ ref('mart_clv_window') }}
),

measured as (
    select
        purchase_channel_count,
        count(*) as buyers,
        round(sum(value_net_revenue_ht) / count(*), 2) as net_revenue_ht_per_buyer,
        round(sum(value_net_merchandise_revenue_ht) / count(*), 2) as merchandise_revenue_ht_per_buyer,
        round(sum(value_gross_margin) / count(*), 2) as gross_margin_per_buyer,
        round(sum(value_cost_to_serve) / count(*), 2) as cost_to_serve_per_buyer,
        round(sum(value_contribution_margin) / count(*), 2) as contribution_margin_per_buyer,
        round(sum(value_cost_to_serve) / nullif(sum(value_net_merchandise_revenue_ht), 0), 4) as cost_to_serve_ratio,
        count(*) filter (where value_contribution_margin < 0) as unprofitable_buyers,
        {{ rate_interval('count(*) filter (where value_contribution_margin < 0)', 'count(*)', 'unprofitable_buyer_share') }}
    from buyers
    group by purchase_channel_count
),

final as (
    select
        measured.*,
        {{ clv_window_columns('clv_window') }}
    from measured
    cross join clv_window
)

select * from final
