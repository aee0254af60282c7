{#- Incremental models: the newest load (raw `_loaded_at`) the model already holds, as a scalar
    subquery; rows loaded after it are new. -infinity while the model is empty, so that the first
    rows of a source that delivered nothing yet are new too. -#}
{% macro last_loaded_at() -%}
    (select coalesce(max(loaded_at), '-infinity'::timestamptz) from {{ this }})
{%- endmacro %}
