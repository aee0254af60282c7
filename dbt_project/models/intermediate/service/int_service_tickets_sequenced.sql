-- Service tickets of all contact channels with the customer, and whether the customer had to
-- come back: a repeat contact is another ticket of the same customer, on any channel, opened
-- within var('repeat_contact_days') days (7) after this one was opened.
with tickets as (
    select * from {{ ref('stg_crm__tickets') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
),

with_customer as (
    select tickets.*, customer_ids.customer_id
    from tickets
    left join customer_ids
        on customer_ids.source_system = 'crm_tickets' and tickets.ticket_id = customer_ids.source_record_id
),

sequenced as (
    select
        *,
        lag(created_at) over customer_tickets as previous_contact_at,
        lead(created_at) over customer_tickets as next_contact_at
    from with_customer
    window customer_tickets as (partition by customer_id order by created_at, ticket_id)
),

final as (
    select
        ticket_id,
        customer_id,
        contact_channel,
        created_at,
        solved_at,
        status,
        resolution,
        coalesce(resolution = 'resolved', false) as is_resolved,
        category,
        subject,
        order_ref,
        store_code,
        coalesce(
            customer_id is not null
            and previous_contact_at >= created_at - to_days({{ var('repeat_contact_days') }}),
            false
        ) as is_repeat_contact,
        coalesce(
            customer_id is not null
            and next_contact_at <= created_at + to_days({{ var('repeat_contact_days') }}),
            false
        ) as is_followed_by_repeat_contact
    from sequenced
)

select * from final
