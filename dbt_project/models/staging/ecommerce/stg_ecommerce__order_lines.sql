with source as (
    select * from {{ source('ecommerce', 'ecommerce_order_lines') }}
),

latest as (
    select * from source
    {{ latest_delivered('order_id, line_number') }}
),

renamed as (
    select
        order_id || '-' || line_number as order_line_id,
        order_id,
        line_number,
        trim(sku) as sku,
        title as product_title,
        quantity,
        unit_price,
        discount,
        line_total as line_amount,
        coalesce(refunded_quantity, 0) as refunded_quantity,
        _loaded_at as loaded_at
    from latest
)

select * from renamed
