-- Till ticket lines and web order lines in one grain, with their order's channel and customer.
-- Incremental (docs/dbt.md, "Incremental models"): a build rewrites only what changed since the
-- last one (the filter at the end).
{{ config(materialized='incremental', unique_key='order_line_id', full_refresh=full_refresh_at_as_of()) }}

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
        unit_price, discount, line_amount, 0 as refunded_quantity, loaded_at
    from ticket_lines
    union all
    select
        order_line_id, order_id, line_number, sku, product_title, quantity, unit_price, discount,
        line_amount, refunded_quantity, loaded_at
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
            as refunded_amount,
        lines.loaded_at
    from lines
    left join orders on lines.order_id = orders.order_id
    {% if is_incremental() -%}
    left join {{ this }} as previous on lines.order_line_id = previous.order_line_id
    -- Lines delivered since the last build, and lines whose order is no longer what they took
    -- from it (a new version of the order, or another customer).
    where lines.loaded_at > {{ last_loaded_at() }}
        or (previous.channel, previous.order_type, previous.ordered_at, previous.store_code, previous.customer_id)
            is distinct from (orders.channel, orders.order_type, orders.ordered_at, orders.store_code, orders.customer_id)
    {%- endif %}
)

select * from final
