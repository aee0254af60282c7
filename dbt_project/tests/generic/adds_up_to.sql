{#- One grain adds up to a coarser one: per `group_by`, the sum of each of `columns` over the rows
    of `model` where `model_where` holds equals that column in `totals` (one row per `group_by`,
    those where `totals_where` holds). It fails when `model` holds rows of two grains (a total
    stacked beside the rows it totals is counted twice), when a group is on one side only, or when
    the two were computed differently. -#}
{% test adds_up_to(model, totals, columns, group_by=[], model_where=none, totals_where=none) %}
with summed as (
    select
        {% for c in group_by %}{{ c }}, {% endfor %}
        {% for c in columns %}sum({{ c }}) as {{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ model }}
    {% if model_where %}where {{ model_where }}{% endif %}
    {% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
),

totals as (
    select {% for c in group_by + columns %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ totals }}
    {% if totals_where %}where {{ totals_where }}{% endif %}
)

select
    {% for c in group_by %}coalesce(summed.{{ c }}, totals.{{ c }}) as {{ c }}, {% endfor %}
    {% for c in columns %}summed.{{ c }} as {{ c }}_summed, totals.{{ c }} as {{ c }}_total{% if not loop.last %}, {% endif %}{% endfor %}
from summed
full outer join totals
    on true{% for c in group_by %} and summed.{{ c }} = totals.{{ c }}{% endfor %}
where {% for c in columns %}summed.{{ c }} is distinct from totals.{{ c }}{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
