-- Amounts without VAT add up: on every order HT + VAT = TTC and merchandise + shipping = what the
-- order brought in; over an order's lines, HT + VAT = TTC; and where the lines carry the order's
-- merchandise, their HT is the order's. Returns one row per order that does not reconcile.
{{ config(meta={'dagster': {'ref': {'name': 'fct_orders'}}}) }}

with orders as (
    select * from {{ ref('fct_orders') }}
),

lines as (
    select * from {{ ref('fct_order_lines') }}
),

line_totals as (
    select
        order_id,
        sum(line_amount + refunded_amount) as net_line_amount,
        sum(line_amount_ht + refunded_amount_ht) as net_line_amount_ht,
        sum(line_amount_ht + line_vat_amount - line_amount) as line_gap
    from lines
    group by order_id
),

checked as (
    select
        orders.order_id,
        orders.net_amount_ht + orders.vat_amount - orders.net_amount as vat_gap,
        orders.net_merchandise_amount + orders.shipping_amount - orders.net_amount as shipping_gap,
        line_totals.line_gap,
        case
            when line_totals.net_line_amount = orders.net_merchandise_amount
                then line_totals.net_line_amount_ht - orders.net_merchandise_amount_ht
            else 0
        end as lines_ht_gap
    from orders
    left join line_totals on orders.order_id = line_totals.order_id
)

select * from checked
where vat_gap <> 0 or shipping_gap <> 0 or coalesce(line_gap, 0) <> 0 or lines_ht_gap <> 0
