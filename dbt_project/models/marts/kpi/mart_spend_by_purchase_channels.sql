-- Do omnichannel customers spend more, in store and online? Buyers of the observation window by
-- where they bought in it (store only, online only, both: omnichannel), with their store and
-- online spend in the value window that follows (definitions in _kpi__docs.md, block
-- spend_by_purchase_channels): the same buyers and windows as mart_value_by_channel_count.
with buyers as (
    select * from {{ ref('mart_clv_buyers') }}
),

clv_window as (
    select * from {{ ref('mart_clv_window') }}
),

measured as (
    select
        purchase_segment,
        count(*) as buyers,
        round(count(*) / sum(count(*)) over (), 4) as share_of_buyers,
        -- sum() of a count(*) is a HUGEINT in DuckDB, which BI drivers cannot read: a BIGINT holds it.
        sum(value_orders)::bigint as value_orders,
        round(sum(value_orders) / count(*), 3) as orders_per_buyer,
        round(sum(value_store_net_revenue_ht) / count(*), 2) as store_net_revenue_ht_per_buyer,
        round(sum(value_online_net_revenue_ht) / count(*), 2) as online_net_revenue_ht_per_buyer,
        round(sum(value_net_revenue_ht) / count(*), 2) as net_revenue_ht_per_buyer,
        round(sum(value_net_revenue_ht) / nullif(sum(sum(value_net_revenue_ht)) over (), 0), 4) as share_of_revenue
    from buyers
    group by purchase_segment
),

final as (
    select
        measured.*,
        {{ clv_window_columns('clv_window') }}
    from measured
    cross join clv_window
)

select * from final
