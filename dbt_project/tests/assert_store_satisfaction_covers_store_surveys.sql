-- The store level of mart_satisfaction holds every survey about a store visit (a till purchase, a
-- click & collect pickup), each in one store: its counts add up to those two touchpoints' rows.
-- A survey of those touchpoints without a store would be missing from every store: one row per
-- count that differs.
{{ config(meta={'dagster': {'ref': {'name': 'mart_satisfaction'}}}) }}

with satisfaction as (
    select * from {{ ref('mart_satisfaction') }}
),

{% set counts = ['responses', 'nps_responses', 'promoters', 'detractors', 'csat_responses', 'ces_responses'] %}
summed as (
    select
        level = 'store' as is_store_level,
        {% for c in counts %}sum({{ c }}) as {{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
    from satisfaction
    where level = 'store' or (level = 'touchpoint' and segment in ('store_purchase', 'click_and_collect_pickup'))
    group by level = 'store'
),

stores as (
    select * from summed where is_store_level
),

touchpoints as (
    select * from summed where not is_store_level
)

{% for c in counts %}
select '{{ c }}' as measure, touchpoints.{{ c }} as touchpoints_value, stores.{{ c }} as stores_value
from touchpoints full outer join stores on true
where touchpoints.{{ c }} is distinct from stores.{{ c }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
