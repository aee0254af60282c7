{#- Shares that split a whole: the column sums to 1 within each group of `group_by` (null keys form
    a group of their own). Each share is rounded to 4 decimals, so a group of n rows may be off by
    up to n × 0.00005. -#}
{% test sums_to_one(model, column_name, group_by=[]) %}
select {% for c in group_by %}{{ c }}, {% endfor %}sum({{ column_name }}) as total, count(*) as shares
from {{ model }}
{% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
having abs(sum({{ column_name }}) - 1) > count(*) * 0.00005
{% endtest %}
