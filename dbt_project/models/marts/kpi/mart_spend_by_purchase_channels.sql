-- Do omnichannel customers spend more, in store and online? Per purchase-channel segment over
-- the customers' whole history: store-only, online-only, omnichannel (bought in both) buyers,
-- with their store and online spend (definitions in _kpi__docs.md, block spend_by_purchase_channels).
with customers as (
    select * from {{ ref('dim_customers') }}
    where orders > 0
),

segmented as (
    select
        *,
        case
            when is_omnichannel then 'omnichannel'
            when list_contains(purchase_channels, 'store') then 'store_only'
            else 'online_only'
        end as purchase_segment,
        web_revenue + click_and_collect_revenue as online_revenue
    from customers
),

final as (
    select
        purchase_segment,
        count(*) as buyers,
        round(count(*) / sum(count(*)) over (), 4) as share_of_buyers,
        sum(orders) as orders,
        round(sum(orders) / count(*), 3) as orders_per_buyer,
        round(sum(store_revenue) / count(*), 2) as store_revenue_per_buyer,
        round(sum(online_revenue) / count(*), 2) as online_revenue_per_buyer,
        round(sum(lifetime_revenue) / count(*), 2) as revenue_per_buyer,
        round(sum(lifetime_revenue) / sum(sum(lifetime_revenue)) over (), 4) as share_of_revenue
    from segmented
    group by purchase_segment
)

select * from final
