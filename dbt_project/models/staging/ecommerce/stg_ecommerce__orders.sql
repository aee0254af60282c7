with source as (
    select * from {{ source('ecommerce', 'ecommerce_orders') }}
),

latest as (
    select * from source
    {{ latest_delivered('order_id') }}
),

renamed as (
    select
        order_id,
        customer_id as account_id,
        lower(trim(email)) as email,
        nullif(trim(billing_first_name), '') as billing_first_name,
        nullif(trim(billing_last_name), '') as billing_last_name,
        nullif(trim(billing_phone), '') as billing_phone,
        nullif(trim(billing_address1), '') as billing_street,
        nullif(trim(billing_zip), '') as billing_postcode,
        nullif(trim(billing_city), '') as billing_city,
        created_at as ordered_at,
        financial_status,
        fulfillment_method as fulfilment_method,
        upper(trim(pickup_store_code)) as pickup_store_code,
        ready_for_pickup_at,
        collected_at,
        subtotal,
        shipping,
        total,
        -- Refunds are money going back to the customer: signed negative.
        -coalesce(refunded_amount, 0) as refunded_amount,
        coalesce(upper(trim(currency)), 'EUR') as currency,
        _loaded_at as loaded_at
    from latest
)

select * from renamed
