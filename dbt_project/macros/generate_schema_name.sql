{#- Models land in the schema their folder names (staging, intermediate, marts), not in
    "<target schema>_<folder>": BI tools and analysts read `marts.dim_customers`. A build of the
    identity KPI range (var identity_variant) lands beside them, in identity_range_<variant>_<folder>. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set schema = target.schema if custom_schema_name is none else custom_schema_name | trim -%}
    {%- set variant = var('identity_variant', none) -%}
    {%- if variant -%}identity_range_{{ variant }}_{{ schema }}{%- else -%}{{ schema }}{%- endif -%}
{%- endmacro %}
