with source as (
    select * from {{ source('crm', 'crm_consents') }}
),

latest as (
    select * from source
    qualify row_number() over (
        partition by consent_id order by _loaded_at desc, _source_file desc, _source_line desc
    ) = 1
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
