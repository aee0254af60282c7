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
)

select * from renamed
