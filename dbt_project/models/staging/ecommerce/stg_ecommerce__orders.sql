{{ config(**incremental_staging('order_id')) }}
with source as (
    select * from {{ source('ecommerce', 'ecommerce_orders') }}
    {% if is_incremental() -%}
    {{ delivered_since_last_build(source('ecommerce', 'ecommerce_orders'), 'order_id') }}
    {%- endif %}
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
),

at_as_of as (
    -- As an export taken at as_of shows them (macros in as_of.sql): an order placed later is not
    -- there yet; readiness and collection reached later are not reached. The export dates no
    -- refund: a refund is taken to happen at the order's last dated step (collection, else
    -- readiness for pickup, else the order itself), so one after as_of has not happened: the
    -- order is paid and nothing is refunded.
    select * replace (
        {{ reached_by_as_of('ready_for_pickup_at') }} as ready_for_pickup_at,
        {{ reached_by_as_of('collected_at') }} as collected_at,
        case when {{ reached_after_as_of(web_refund_at()) }} then 'paid' else financial_status end
            as financial_status,
        case when {{ reached_after_as_of(web_refund_at()) }} then 0::decimal(18, 2) else refunded_amount end
            as refunded_amount
    )
    from renamed
    where {{ happened_by_as_of('ordered_at') }}
)

select * from at_as_of
