-- Marketing consent per customer and channel: the latest statement wins, whichever system
-- recorded it (CRM consent log, or the web account's opt-in boxes at sign-up).
with consents as (
    select * from {{ ref('stg_crm__consents') }}
),

web_customers as (
    select * from {{ ref('stg_ecommerce__customers') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
),

statements as (
    select customer_ids.customer_id, consents.consent_channel, consents.is_granted, consents.stated_at
    from consents
    inner join customer_ids
        on customer_ids.source_system = 'crm_contacts' and consents.contact_id = customer_ids.source_record_id
    union all
    select customer_ids.customer_id, channels.consent_channel, channels.is_granted, web_customers.created_at
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

final as (
    select customer_id, consent_channel, is_granted, stated_at
    from statements
    qualify row_number() over (
        partition by customer_id, consent_channel order by stated_at desc, is_granted
    ) = 1
)

select * from final
