with source as (
    select * from {{ source('ecommerce', 'ecommerce_products') }}
),

latest as (
    select * from source
    {{ latest_delivered('sku') }}
),

renamed as (
    select
        trim(sku) as sku,
        title as product_title,
        brand,
        universe,
        category,
        price
    from latest
)

select * from renamed
