with source as (
    select * from {{ source('ecommerce', 'ecommerce_web_events') }}
),

latest as (
    select * from source
    qualify row_number() over (
        partition by event_id order by _loaded_at desc, _source_file desc, _source_line desc
    ) = 1
),

renamed as (
    select
        event_id,
        event_type,
        event_at,
        visitor_id,
        session_id,
        customer_id as account_id,
        order_id,
        sku,
        page_url,
        device,
        utm_source
    from latest
)

select * from renamed
