-- The golden record's identity attributes: one row per customer, each attribute chosen by a
-- survivorship rule (documented in _customers__docs.md, block "survivorship").
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with records as (
    select * from {{ ref('int_customer_records_enriched') }}
    where {{ only_affected_customers() }}
),

named as (
    -- Name: the most trusted source, then the most recent record, among records with a full name.
    select customer_id, first_name, last_name
    from records
    where has_full_name and first_name is not null and last_name is not null
    qualify row_number() over (
        partition by customer_id order by source_trust_rank, seen_at desc, source_record_key
    ) = 1
),

emailed as (
    -- E-mail: the most recently used.
    select customer_id, email
    from records
    where email is not null
    qualify row_number() over (partition by customer_id order by seen_at desc, source_record_key) = 1
),

phoned as (
    -- Phone: the most recently used (E.164).
    select customer_id, phone
    from records
    where phone is not null
    qualify row_number() over (partition by customer_id order by seen_at desc, source_record_key) = 1
),

addressed as (
    -- Postal address: the most recent record with a postcode; street and city come with it.
    select customer_id, street, postcode, city
    from records
    where postcode is not null
    qualify row_number() over (partition by customer_id order by seen_at desc, source_record_key) = 1
),

birth_dates as (
    -- Birth date: the most frequent value; a tie goes to the most recently stated.
    select customer_id, birth_date
    from records
    where birth_date is not null
    group by customer_id, birth_date
    qualify row_number() over (
        partition by customer_id order by count(*) desc, max(seen_at) desc, birth_date
    ) = 1
),

customers as (
    select
        customer_id,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        count(*) as source_records,
        count(distinct source_system) as source_systems
    from records
    group by customer_id
),

final as (
    select
        customers.customer_id,
        named.first_name,
        named.last_name,
        emailed.email,
        phoned.phone,
        addressed.street,
        addressed.postcode,
        addressed.city,
        birth_dates.birth_date,
        customers.first_seen_at,
        customers.last_seen_at,
        customers.source_records,
        customers.source_systems
    from customers
    left join named on customers.customer_id = named.customer_id
    left join emailed on customers.customer_id = emailed.customer_id
    left join phoned on customers.customer_id = phoned.customer_id
    left join addressed on customers.customer_id = addressed.customer_id
    left join birth_dates on customers.customer_id = birth_dates.customer_id
)

select * from final
