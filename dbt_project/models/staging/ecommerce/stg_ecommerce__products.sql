with source as (
    select * from {{ source('ecommerce', 'ecommerce_products') }}
),

latest as (
    select * from source
    qualify row_number() over (partition by sku order by _loaded_at desc, _source_file desc, _source_line desc) = 1
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
