with source as (
    select * from {{ source('crm', 'crm_contacts') }}
),

latest as (
    -- A contact is exported again when it changes: the last modification wins, among those made
    -- by as_of when var as_of is set (a contact delivered only as modified later keeps that
    -- version: the export has no earlier one).
    select * from source
    {{ latest_delivered(
        'contact_id',
        first_order_by=reached_after_as_of('lastmodifieddate') ~ ', lastmodifieddate desc nulls last'
    ) }}
),

renamed as (
    select
        contact_id,
        nullif(trim(firstname), '') as first_name,
        nullif(trim(lastname), '') as last_name,
        lower(trim(email)) as email,
        nullif(trim(phone), '') as phone,
        date_of_birth as birth_date,
        nullif(trim(address), '') as street,
        nullif(trim(zip), '') as postcode,
        nullif(trim(city), '') as city,
        nullif(regexp_replace(loyalty_card_number, '[^0-9]', '', 'g'), '') as loyalty_card,
        loyalty_points,
        loyalty_tier,
        upper(trim(preferred_store_code)) as preferred_store_code,
        favourite_universe,
        createdate as created_at,
        lastmodifieddate as updated_at
    from latest
),

at_as_of as (
    -- A contact created after as_of is not there yet.
    select * from renamed
    where {{ happened_by_as_of('created_at') }}
)

select * from at_as_of
