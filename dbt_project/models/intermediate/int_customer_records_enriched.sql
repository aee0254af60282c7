-- One row per identity-bearing source record that belongs to a customer, with everything the
-- golden record chooses from: standardised identity values (from identity resolution) and the
-- names and street as the source typed them (for display).
with customer_records as (
    select * from {{ ref('stg_identity__customer_source_records') }}
),

identity_records as (
    select * from {{ ref('stg_identity__records') }}
),

crm_contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

web_customers as (
    select * from {{ ref('stg_ecommerce__customers') }}
),

web_orders as (
    select * from {{ ref('stg_ecommerce__orders') }}
),

pos_tickets as (
    select * from {{ ref('stg_pos__tickets') }}
),

service_tickets as (
    select * from {{ ref('stg_crm__tickets') }}
),

typed_values as (
    select 'crm_contacts' as source_system, contact_id as source_record_id, first_name, last_name, street
    from crm_contacts
    union all
    select 'ecommerce_customers', account_id, first_name, last_name, street from web_customers
    union all
    select 'ecommerce_orders', order_id, billing_first_name, billing_last_name, billing_street
    from web_orders
    union all
    select 'pos_tickets', ticket_id, customer_first_name, customer_last_name, null from pos_tickets
    union all
    -- The service tool has one "requester name" field: first word, then the rest.
    select 'crm_tickets', ticket_id,
           split_part(requester_name, ' ', 1),
           nullif(trim(substr(requester_name, length(split_part(requester_name, ' ', 1)) + 1)), ''),
           null
    from service_tickets
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
        typed_values.first_name,
        typed_values.last_name,
        identity_records.email,
        identity_records.phone,
        identity_records.birth_date,
        typed_values.street,
        identity_records.postcode,
        identity_records.city,
        identity_records.loyalty_card,
        identity_records.contact_id,
        identity_records.account_id
    from customer_records
    inner join identity_records
        on customer_records.source_record_key = identity_records.source_record_key
    left join typed_values
        on customer_records.source_system = typed_values.source_system
        and customer_records.source_record_id = typed_values.source_record_id
)

select * from enriched
