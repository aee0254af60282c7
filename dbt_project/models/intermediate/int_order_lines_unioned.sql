-- Till ticket lines and web order lines in one grain, with their order's channel and customer.
with ticket_lines as (
    select * from {{ ref('stg_pos__ticket_lines') }}
),

web_lines as (
    select * from {{ ref('stg_ecommerce__order_lines') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

lines as (
    select
        ticket_line_id as order_line_id, ticket_id as order_id, line_number, sku, product_title, quantity,
        unit_price, discount, line_amount, 0 as refunded_quantity
    from ticket_lines
    union all
    select
        order_line_id, order_id, line_number, sku, product_title, quantity, unit_price, discount,
        line_amount, refunded_quantity
    from web_lines
),

final as (
    select
        lines.order_line_id,
        lines.order_id,
        lines.line_number,
        orders.channel,
        orders.order_type,
        orders.ordered_at,
        orders.store_code,
        orders.customer_id,
        lines.sku,
        lines.product_title,
        lines.quantity,
        lines.unit_price,
        lines.discount,
        lines.line_amount,
        lines.refunded_quantity,
        -- Web refunds are recorded per line as a quantity; returns in store are their own ticket.
        -(lines.refunded_quantity * lines.line_amount / nullif(lines.quantity, 0))::decimal(18, 2)
            as refunded_amount
    from lines
    left join orders on lines.order_id = orders.order_id
)

select * from final
