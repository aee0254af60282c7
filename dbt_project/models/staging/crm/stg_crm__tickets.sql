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
),

at_as_of as (
    -- As an export taken at as_of shows them (macros in as_of.sql): a ticket opened later is not
    -- there yet; one solved or closed later is still open, with no resolution.
    select * replace (
        {{ reached_by_as_of('solved_at') }} as solved_at,
        case when {{ reached_after_as_of('solved_at') }} then 'open' else status end as status,
        case when {{ reached_after_as_of('solved_at') }} then null else resolution end as resolution
    )
    from renamed
    where {{ happened_by_as_of('created_at') }}
)

select * from at_as_of
