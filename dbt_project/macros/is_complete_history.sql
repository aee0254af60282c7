{#- Whether the loaded history covers the 24 months up to the end of the KPI period starting at
    `period_start` (a date): enough for "new" (no purchase before, as far as the data goes) and
    for a 12-month retention (a year of customers and the year after it) to mean what they say.
    Earlier periods are left-censored: old customers look new. -#}
{% macro is_complete_history(period_start) -%}
    {{ history_covers(period_start, 24) }}
{%- endmacro %}

{#- Whether the loaded history covers the `months` months up to the end of the KPI period starting
    at `period_start` (a date): the one place this test is written. -#}
{% macro history_covers(period_start, months) -%}
    (({{ period_start }} + interval '1 {{ var("kpi_period") }}' - interval '{{ months }} months')::date
        >= timezone('{{ var("reporting_timezone") }}', {{ history_start() }})::date)
{%- endmacro %}
