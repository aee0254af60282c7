with lines as (
    select * from {{ ref('int_order_lines_unioned') }}
)

select
    order_line_id,
    order_id,
    line_number,
    customer_id,
    channel,
    order_type,
    ordered_at,
    store_code,
    sku,
    product_title,
    quantity,
    unit_price,
    discount,
    line_amount,
    refunded_quantity,
    refunded_amount
from lines
