-- One row per identity-bearing source record that belongs to a customer, with everything the
-- golden record chooses from: standardised identity values, and names and street as the source
-- typed them (for display). Both come from identity resolution, which already reads every source.
with customer_records as (
    select * from {{ ref('stg_identity__customer_source_records') }}
),

identity_records as (
    select * from {{ ref('stg_identity__records') }}
),

enriched as (
    select
        customer_records.customer_id,
        customer_records.source_record_key,
        customer_records.source_system,
        customer_records.source_record_id,
        customer_records.seen_at,
        -- Trust order for names: the CRM (checked at the loyalty desk) first, then the web
        -- account the customer maintains, then what was typed for one transaction.
        case customer_records.source_system
            when 'crm_contacts' then 1
            when 'ecommerce_customers' then 2
            when 'ecommerce_orders' then 3
            when 'crm_tickets' then 4
            when 'pos_tickets' then 5
            else 6
        end as source_trust_rank,
        identity_records.first_name_standardised is not null
            and identity_records.last_name_standardised is not null as has_full_name,
        identity_records.first_name_as_typed as first_name,
        identity_records.last_name_as_typed as last_name,
        identity_records.email,
        identity_records.phone,
        identity_records.birth_date,
        identity_records.street_as_typed as street,
        identity_records.postcode,
        identity_records.city,
        identity_records.loyalty_card,
        identity_records.contact_id,
        identity_records.account_id
    from customer_records
    inner join identity_records
        on customer_records.source_record_key = identity_records.source_record_key
)

select * from enriched
