-- Which customers' inputs changed since the last build: one row per customer id ever seen, with a
-- fingerprint of everything the customer-grain models read about them (their identity records,
-- touchpoints, web sessions and the sessions that placed their orders, orders and lines with the
-- products bought, the revenue attributed to them, CRM contacts and consent statements, web
-- accounts, the cost of their interactions) and changed_at,
-- the build that last saw it change. A customer merged away, split off or erased keeps a row
-- with a null fingerprint. The customer-grain incremental models recompute the customers changed
-- since they last applied these changes (macros in customer_changes.sql; docs/dbt.md).
-- Comparing fingerprints with what the table holds, instead of remembering what a run loaded,
-- catches every cause alike: a new or corrected record, a merge or split, a late file, an erasure.
{{ config(materialized='incremental', unique_key='customer_id', full_refresh=full_refresh_at_as_of()) }}

with customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
),

products as (
    select sku, universe from {{ ref('stg_ecommerce__products') }}
),

-- One hash per input row, under the customer it belongs to (a row of two customers, such as a
-- return of another customer's sale, counts for both). When a row was loaded is left out: the
-- same record loaded again changes no customer.
input_rows as (
    select customer_id, hash(records) as row_hash
    from {{ ref('int_customer_records_enriched') }} as records
    union all
    select customer_id, hash(touchpoints)
    from {{ ref('int_touchpoints_unioned') }} as touchpoints
    union all
    -- An order counts for its customer with whose revenue it is (a return of another customer's
    -- sale is rewritten in the facts when that sale changes customer), and for that customer.
    select orders.customer_id, hash(orders, revenue.revenue_customer_id)
    from (select * exclude (loaded_at) from {{ ref('int_orders_unioned') }}) as orders
    left join {{ ref('int_order_revenue_attributed') }} as revenue on orders.order_id = revenue.order_id
    union all
    select revenue_customer_id, hash(revenue)
    from {{ ref('int_order_revenue_attributed') }} as revenue
    union all
    select lines.customer_id, hash(lines, products.universe)
    from (select * exclude (loaded_at) from {{ ref('int_order_lines_unioned') }}) as lines
    left join products on lines.sku = products.sku
    union all
    select customer_id, hash(sessions)
    from (select * exclude (loaded_at) from {{ ref('int_web_sessions_aggregated') }}) as sessions
    union all
    -- The session that placed an order is part of the order's customer's journey (one step with
    -- the order), whoever the session's own customer is.
    select orders.customer_id, hash(sessions.session_id, sessions.order_id)
    from {{ ref('int_web_sessions_aggregated') }} as sessions
    inner join {{ ref('int_orders_unioned') }} as orders on sessions.order_id = orders.order_id
    union all
    select customer_ids.customer_id, hash(contacts)
    from {{ ref('stg_crm__contacts') }} as contacts
    inner join customer_ids
        on customer_ids.source_system = 'crm_contacts' and contacts.contact_id = customer_ids.source_record_id
    union all
    select customer_ids.customer_id, hash(consents)
    from {{ ref('stg_crm__consents') }} as consents
    inner join customer_ids
        on customer_ids.source_system = 'crm_contacts' and consents.contact_id = customer_ids.source_record_id
    union all
    select customer_ids.customer_id, hash(accounts)
    from {{ ref('stg_ecommerce__customers') }} as accounts
    inner join customer_ids
        on customer_ids.source_system = 'ecommerce_customers' and accounts.account_id = customer_ids.source_record_id
    union all
    select customer_id, hash(costs)
    from {{ ref('int_touchpoint_costs') }} as costs
),

-- What the customer-grain models read besides the customer's own rows (vars and the channels
-- seed): part of every fingerprint, so that changing one, even by hand with --vars, recomputes
-- every customer.
settings as (
    select hash(
        '{{ var("kpi_period") }}', '{{ var("reporting_timezone") }}', {{ var('trailing_months') }},
        {{ var('gross_margin_rate') }}, {{ var('journey_lookback_days') }},
        (select list(channels order by channels.channel) from {{ ref('channels') }} as channels)
    ) as settings_hash
),

fingerprints as (
    select
        customer_id,
        xor(bit_xor(row_hash), (select settings_hash from settings)) as fingerprint,
        count(*) as input_rows
    from input_rows
    where customer_id is not null
    group by customer_id
),

{% if is_incremental() %}
changed as (
    select
        coalesce(fingerprints.customer_id, held.customer_id) as customer_id,
        fingerprints.fingerprint,
        fingerprints.input_rows
    from fingerprints
    full outer join (select * from {{ this }} where fingerprint is not null) as held
        on fingerprints.customer_id = held.customer_id
    where (fingerprints.fingerprint, fingerprints.input_rows) is distinct from (held.fingerprint, held.input_rows)
),
{% else %}
changed as (
    select * from fingerprints
),
{% endif %}

final as (
    select
        customer_id,
        fingerprint,
        input_rows,
        '{{ run_started_at.isoformat() }}'::timestamptz as changed_at
    from changed
)

select * from final
