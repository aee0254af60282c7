with source as (
    select * from {{ source('ecommerce', 'ecommerce_customers') }}
),

latest as (
    select * from source
    {{ latest_delivered('customer_id') }}
),

renamed as (
    select
        customer_id as account_id,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        lower(trim(email)) as email,
        nullif(trim(phone), '') as phone,
        birth_date,
        nullif(trim(address1), '') as street,
        nullif(trim(zip), '') as postcode,
        nullif(trim(city), '') as city,
        country_code,
        accepts_email_marketing,
        accepts_sms_marketing,
        created_at
    from latest
),

at_as_of as (
    -- Web accounts created after as_of are not there yet.
    select * from renamed
    where {{ happened_by_as_of('created_at') }}
)

select * from at_as_of
