{#- The KPI period a UTC timestamp falls in, cut in the reporting time zone (var kpi_period,
    month by default): the first day of the period, as a date. -#}
{% macro kpi_period(timestamp_column) -%}
    date_trunc('{{ var("kpi_period") }}', timezone('{{ var("reporting_timezone") }}', {{ timestamp_column }}))::date
{%- endmacro %}
