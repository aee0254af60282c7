-- Marketing consent of every customer for every channel (e-mail, SMS, post), with its provenance.
-- A customer with no statement for a channel is 'unknown' and is_granted is false: never
-- consented by default: whatever contacts customers on a channel filters on is_granted.
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with customers as (
    select customer_id from {{ ref('int_customer_profiles') }}
    where {{ only_affected_customers() }}
),

consents as (
    select * from {{ ref('int_consents_latest') }}
    where {{ only_affected_customers() }}
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
