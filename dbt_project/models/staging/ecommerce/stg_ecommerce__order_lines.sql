-- depends_on: {{ ref('stg_ecommerce__orders') }} (the cut at var as_of keeps the lines of the orders it keeps)
{{ config(**incremental_staging('order_line_id')) }}
with source as (
    select * from {{ source('ecommerce', 'ecommerce_order_lines') }}
    {% if is_incremental() -%}
    {{ delivered_since_last_build(source('ecommerce', 'ecommerce_order_lines'), 'order_id, line_number') }}
    {%- endif %}
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
),

at_as_of as (
    -- A line is dated by its order: the lines of an order placed after as_of are not there yet,
    -- and a refund the order had not had at as_of is not on its lines either.
    {% if as_of_var() -%}
    select renamed.* replace (
        case when orders.refunded_amount = 0 then 0 else renamed.refunded_quantity end as refunded_quantity
    )
    from renamed
    inner join {{ ref('stg_ecommerce__orders') }} as orders on renamed.order_id = orders.order_id
    {%- else -%}
    select * from renamed
    {%- endif %}
)

select * from at_as_of
