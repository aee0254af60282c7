with source as (
    select * from {{ source('crm', 'crm_tickets') }}
),

latest as (
    -- A ticket is exported again when its status changes: the last export wins.
    select * from source
    {{ latest_delivered('ticket_id') }}
),

renamed as (
    select
        ticket_id,
        lower(channel) as contact_channel,
        created_at,
        solved_at,
        status,
        resolution,
        category,
        subject,
        nullif(trim(requester_name), '') as requester_name,
        lower(trim(requester_email)) as requester_email,
        nullif(trim(requester_phone), '') as requester_phone,
        contact_id,
        order_ref,
        upper(trim(store_code)) as store_code
    from latest
)

select * from renamed
