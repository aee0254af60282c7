{#- What the customer-level KPIs can see. A KPI counted over identified customers (web-to-store,
    store-to-web, multichannel and omnichannel, retention, repeat contacts) is blind to what no
    customer is attached to: an anonymous till ticket, a session whose visitor never logged in.
    These are the shares of each kind of activity that name a customer, in the same period (and
    grain) as the KPI beside them; written once here for every mart that states its coverage.

    Not a sample estimate: every ticket, session, order and service ticket of the period is
    counted, so the shares carry no interval (definitions in _kpi__docs.md, block coverage). -#}

{#- Each kind of activity: the model it is counted in (a name, referenced only by the marts that
    count that activity), when it happened, which rows are units, the columns
    a mart may group it by, and the names of its three output columns (units, identified units,
    identified share). -#}
{% macro coverage_activities() -%}
{{ return({
    'till_ticket': {
        'model': 'fct_orders', 'at': 'ordered_at',
        'where': "source_system = 'pos' and order_type = 'sale'", 'by': {},
        'columns': ['till_tickets', 'identified_till_tickets', 'identified_till_ticket_share'],
    },
    'web_session': {
        'model': 'fct_web_sessions', 'at': 'started_at', 'where': 'true',
        'by': {'device': "coalesce(device, 'unknown')"},
        'columns': ['web_sessions', 'identified_sessions', 'identified_session_share'],
    },
    'web_order': {
        'model': 'fct_orders', 'at': 'ordered_at',
        'where': "source_system = 'ecommerce' and order_type = 'sale'", 'by': {},
        'columns': ['web_orders', 'identified_web_orders', 'identified_web_order_share'],
    },
    'service_ticket': {
        'model': 'fct_service_tickets', 'at': 'created_at', 'where': 'true',
        'by': {'contact_channel': 'contact_channel'},
        'columns': ['service_tickets', 'identified_service_tickets', 'identified_service_ticket_share'],
    },
}) }}
{%- endmacro %}

{#- A select with one row per period (and per each column of `by`) and, for each of `activities`
    (keys of coverage_activities), its units, identified units and identified share. -#}
{% macro identification_coverage(activities, by=[]) -%}
{%- set known = coverage_activities() -%}
select
    period_start,
    {%- for column in by %}
    {{ column }},
    {%- endfor %}
    {%- for activity in activities %}
    {%- set units, identified, share = known[activity]['columns'] %}
    count(*) filter (where activity = '{{ activity }}') as {{ units }},
    count(*) filter (where activity = '{{ activity }}' and is_identified) as {{ identified }},
    round(
        count(*) filter (where activity = '{{ activity }}' and is_identified)
        / nullif(count(*) filter (where activity = '{{ activity }}'), 0), 4
    ) as {{ share }}{{ ',' if not loop.last }}
    {%- endfor %}
from (
    {%- for activity in activities %}
    {%- set source = known[activity] %}
    {%- for column in by if column not in source['by'] %}
    {{ exceptions.raise_compiler_error("identification_coverage: " ~ activity ~ " cannot be grouped by " ~ column) }}
    {%- endfor %}
    select
        '{{ activity }}' as activity,
        {{ kpi_period(source['at']) }} as period_start,
        {%- for column in by %}
        {{ source['by'][column] }} as {{ column }},
        {%- endfor %}
        customer_id is not null as is_identified
    from {{ ref(source['model']) }}
    where {{ source['where'] }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
) as units
group by all
{%- endmacro %}
