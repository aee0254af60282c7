-- Marketing consent of every customer for every channel (e-mail, SMS, post), with its provenance.
-- A customer with no statement for a channel is 'unknown' and is_granted is false: never
-- consented by default: whatever contacts customers on a channel filters on is_granted.
with customers as (
    select * from {{ ref('dim_customers') }}
),

consents as (
    select * from {{ ref('int_consents_latest') }}
),

channels as (
    select unnest(['email', 'sms', 'post']) as consent_channel
),

final as (
    select
        customers.customer_id,
        channels.consent_channel,
        case
            when consents.is_granted then 'granted'
            when consents.is_granted = false then 'denied'
            else 'unknown'
        end as consent_state,
        coalesce(consents.is_granted, false) as is_granted,
        consents.stated_at,
        consents.source_system,
        consents.source_record_id,
        consents.collected_via,
        consents.last_granted_at,
        coalesce(consents.statement_count, 0) as statement_count
    from customers
    cross join channels
    left join consents
        on customers.customer_id = consents.customer_id and channels.consent_channel = consents.consent_channel
)

select * from final
