{#- Service contacts per period and each of the columns `by` (contact_channel, or none for all
    channels): contacts, contacts per contacting customer, repeat contacts, first-contact
    resolution (each with its 95 % Wilson interval), time to resolution, the contacts still open and
    the share of contacts that name a customer (macro identification_coverage: repeat contacts and
    contacts per customer can only see those; definitions in _kpi__docs.md, block service). Distinct
    customers and percentiles do not add up across channels, so each grain is counted from the
    tickets, in a table of its own. -#}
{% macro service_contacts_by(by) -%}
{%- set keys = (['period_start'] + by) | join(', ') -%}
with tickets as (
    select *, {{ kpi_period('created_at') }} as period_start
    from {{ ref('fct_service_tickets') }}
),

measured as (
    select
        {{ keys }},
        count(*) as contacts,
        count(distinct customer_id) as contacting_customers,
        round(count(customer_id) / nullif(count(distinct customer_id), 0), 3) as contacts_per_customer,
        count(*) filter (where is_repeat_contact) as repeat_contacts,
        {{ rate_interval('count(*) filter (where is_repeat_contact)', 'count(*)', 'repeat_contact_rate') }},
        count(*) filter (where is_resolved and not is_followed_by_repeat_contact)
            as resolved_at_first_contact,
        {{ rate_interval(
            'count(*) filter (where is_resolved and not is_followed_by_repeat_contact)', 'count(*)',
            'first_contact_resolution_rate'
        ) }},
        count(solved_at) as solved_contacts,
        round(median(date_diff('minute', created_at, solved_at)) / 60.0, 1) as median_hours_to_resolution,
        round(quantile_cont(date_diff('minute', created_at, solved_at), 0.9) / 60.0, 1)
            as p90_hours_to_resolution,
        -- Right-censoring: the times above are of solved contacts only; those still open at the
        -- export are counted with their age at as_of, so a backlog is seen, not left out.
        count(*) filter (where solved_at is null) as open_contacts,
        round(
            median(date_diff('minute', created_at, {{ as_of() }})) filter (where solved_at is null) / 60.0, 1
        ) as median_open_hours
    from tickets
    group by {{ keys }}
),

coverage as (
    {{ identification_coverage(['service_ticket'], by=by) | indent(4) }}
)

select
    measured.*,
    coverage.identified_service_ticket_share,
    {{ is_partial_period('measured.period_start') }} as is_partial_period
from measured
inner join coverage using ({{ keys }})
{%- endmacro %}
