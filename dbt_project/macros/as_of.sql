{#- The instant models treat as "now" (int_data_window.as_of: var as_of, else the latest event in
    the data), as a scalar subquery: the one place "now" is defined. -#}
{% macro as_of() -%}
    (select as_of from {{ ref('int_data_window') }})
{%- endmacro %}

{#- When the loaded history starts (int_data_window.history_start_at), as a scalar subquery. -#}
{% macro history_start() -%}
    (select history_start_at from {{ ref('int_data_window') }})
{%- endmacro %}
