-- One row per sale: what it finally brought in once its web refunds and every till return of it
-- are netted (int_order_revenue_attributed), merchandise without VAT and shipping apart. The
-- amount an order counts for in the average order value (definition in _kpi__docs.md, block
-- average_order_value), whichever mart publishes one.
with revenue as (
    select * from {{ ref('int_order_revenue_attributed') }}
),

netted as (
    select
        sale_order_id as order_id,
        sum(net_amount) as net_amount,
        sum(net_merchandise_amount) as net_merchandise_amount,
        sum(net_merchandise_amount_ht) as net_merchandise_amount_ht,
        sum(shipping_amount) as shipping_amount
    from revenue
    where sale_order_id is not null
    group by sale_order_id
),

final as (
    select * from netted
)

select * from final
