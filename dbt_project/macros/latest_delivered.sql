{#- Keep one row per key: the version delivered last (latest load, then the later file and line).
    A record exported again (a contact modified, a ticket solved) replaces its earlier version.
    `first_order_by` puts a source's own "last modified" column before the delivery order. -#}
{% macro latest_delivered(key, first_order_by=none) -%}
    qualify row_number() over (
        partition by {{ key }}
        order by {% if first_order_by %}{{ first_order_by }}, {% endif %}_loaded_at desc, _source_file desc, _source_line desc
    ) = 1
{%- endmacro %}
