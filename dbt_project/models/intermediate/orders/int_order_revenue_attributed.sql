-- Whose revenue each order's net amount is (definitions in _core__docs.md, block
-- revenue_attribution): a sale's own customer and channel; a till return's original sale's
-- customer and channel, whoever the return ticket names; a return whose original sale is not in
-- the data is unattributed (nobody's, on the channel it was brought back to). Every amount is
-- dated when it happened: a return in the period of the return. The one place revenue is
-- attributed: dim_customers, fct_orders and mart_net_revenue read it.
with orders as (
    select * from {{ ref('int_orders_unioned') }}
),

sales as (
    select order_id, customer_id, channel
    from orders
    where order_type = 'sale'
),

returns_matched as (
    -- Each till return with the sale it refunds, when that sale is in the data (a return that
    -- names another return, or nothing, matches none).
    select
        orders.order_id,
        sales.order_id as sale_order_id,
        sales.customer_id as sale_customer_id,
        sales.channel as sale_channel
    from orders
    inner join sales on orders.original_order_id = sales.order_id
    where orders.order_type = 'return'
),

final as (
    select
        orders.order_id,
        orders.order_type,
        orders.ordered_at as booked_at,
        case when orders.order_type = 'sale' then orders.order_id else returns_matched.sale_order_id end
            as sale_order_id,
        case when orders.order_type = 'sale' then orders.customer_id else returns_matched.sale_customer_id end
            as revenue_customer_id,
        case
            when orders.order_type = 'sale' then orders.channel
            else coalesce(returns_matched.sale_channel, orders.channel)
        end as revenue_channel,
        orders.order_type = 'return' and returns_matched.order_id is null as is_unattributed_return,
        orders.amount,
        orders.refunded_amount,
        orders.net_amount
    from orders
    left join returns_matched on orders.order_id = returns_matched.order_id
)

select * from final
