with source as (
    select * from {{ source('crm', 'crm_consents') }}
),

latest as (
    select * from source
    {{ latest_delivered('consent_id') }}
),

renamed as (
    select
        consent_id,
        contact_id,
        lower(channel) as consent_channel,
        status = 'granted' as is_granted,
        stated_at,
        collected_via
    from latest
),

at_as_of as (
    -- Statements made after as_of are not there yet (the latest one before it wins downstream).
    select * from renamed
    where {{ happened_by_as_of('stated_at') }}
)

select * from at_as_of
