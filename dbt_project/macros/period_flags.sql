{#- Whether the KPI period starting at `period_start` (a date) is still running at as_of(): the
    data cannot yet hold its last day, so its counts are not the period's. A period is complete
    once as_of falls on its last day (reporting time zone) or later. -#}
{% macro is_partial_period(period_start) -%}
    (timezone('{{ var("reporting_timezone") }}', {{ as_of() }})::date
        < ({{ period_start }} + interval '1 {{ var("kpi_period") }}' - interval '1 day')::date)
{%- endmacro %}

{#- Whether the loaded history covers the trailing window of var('trailing_months') months that
    ends with the KPI period starting at `period_start`: before that, a trailing rate counts fewer
    months than it says. -#}
{% macro is_complete_window(period_start) -%}
    {{ history_covers(period_start, var("trailing_months")) }}
{%- endmacro %}

{#- The window frame of the trailing var('trailing_months') months ending with the current KPI
    period, over rows ordered by a period_start date. -#}
{% macro trailing_window_frame() -%}
    range between interval '{{ var("trailing_months") }} months' - interval '1 {{ var("kpi_period") }}' preceding
        and current row
{%- endmacro %}
