with source as (
    select * from {{ source('identity', 'records') }}
),

renamed as (
    select
        unique_id as source_record_key,
        source_system,
        source_record_id,
        first_name as first_name_standardised,
        last_name as last_name_standardised,
        first_name_as_typed,
        last_name_as_typed,
        street_as_typed,
        birth_date,
        email,
        phone,
        house_number,
        street,
        postcode,
        city,
        loyalty_card,
        account_id,
        contact_id,
        store_code,
        seen_at
    from source
),

at_as_of as (
    -- A record first seen after as_of is not there yet. Who each record belongs to is identity
    -- resolution's answer on all the records it read, not cut (docs/kpis.md).
    select * from renamed
    where {{ happened_by_as_of('seen_at') }}
)

select * from at_as_of
