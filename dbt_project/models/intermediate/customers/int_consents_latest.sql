-- Marketing consent per customer and channel: the latest statement wins, whichever system
-- recorded it (CRM consent log, or the web account's opt-in boxes at sign-up), with where it
-- comes from (its provenance: system, record, how it was collected).
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with consents as (
    select * from {{ ref('stg_crm__consents') }}
),

web_customers as (
    select * from {{ ref('stg_ecommerce__customers') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
    where {{ only_affected_customers() }}
),

statements as (
    select
        customer_ids.customer_id,
        consents.consent_channel,
        consents.is_granted,
        consents.stated_at,
        'crm' as source_system,
        consents.consent_id as source_record_id,
        consents.collected_via
    from consents
    inner join customer_ids
        on customer_ids.source_system = 'crm_contacts' and consents.contact_id = customer_ids.source_record_id
    union all
    select
        customer_ids.customer_id,
        channels.consent_channel,
        channels.is_granted,
        web_customers.created_at,
        'ecommerce',
        web_customers.account_id,
        'web account sign-up'
    from web_customers
    inner join customer_ids
        on customer_ids.source_system = 'ecommerce_customers'
        and web_customers.account_id = customer_ids.source_record_id
    cross join lateral (
        select 'email' as consent_channel, web_customers.accepts_email_marketing as is_granted
        union all
        select 'sms', web_customers.accepts_sms_marketing
    ) as channels
    where channels.is_granted is not null
),

ranked as (
    select
        *,
        -- When the customer last granted this channel (kept with a later refusal: it is history).
        max(case when is_granted then stated_at end) over statements_of_channel as last_granted_at,
        count(*) over statements_of_channel as statement_count
    from statements
    window statements_of_channel as (partition by customer_id, consent_channel)
),

final as (
    select
        customer_id,
        consent_channel,
        is_granted,
        stated_at,
        source_system,
        source_record_id,
        collected_via,
        last_granted_at,
        statement_count
    from ranked
    -- Two statements at the same instant: the refusal wins.
    qualify row_number() over (
        partition by customer_id, consent_channel order by stated_at desc, is_granted, source_system
    ) = 1
)

select * from final
