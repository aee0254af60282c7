{#- A composite key: no two rows share the same values of `columns`, and none of them is null.
    (dbt_utils has one; packages need the network at install time, so the project carries its own.) -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1 or {% for c in columns %}{{ c }} is null{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
