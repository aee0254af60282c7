{#- An invariant: every row satisfies `expression` (a SQL boolean over the model's columns); a row
    where it is false or null fails. For relations between columns that a range cannot state:
    shares that sum to 1, a window that starts before it ends. -#}
{% test expression_holds(model, expression) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
