{#- A customer's lifecycle stage at instant `at`, from their first and last purchase before it
    (definitions in _kpi__docs.md, block lifecycle): prospect (no purchase yet), new (first
    purchase within var('lifecycle_new_days')), active (last purchase within
    var('lifecycle_active_days')), lapsing (within var('lifecycle_lapsed_days')), else lapsed. -#}
{% macro lifecycle_stage(first_purchase_at, last_purchase_at, at) -%}
    case
        when {{ last_purchase_at }} is null then 'prospect'
        when {{ first_purchase_at }} > {{ at }} - to_days({{ var('lifecycle_new_days') }}) then 'new'
        when {{ last_purchase_at }} > {{ at }} - to_days({{ var('lifecycle_active_days') }}) then 'active'
        when {{ last_purchase_at }} > {{ at }} - to_days({{ var('lifecycle_lapsed_days') }}) then 'lapsing'
        else 'lapsed'
    end
{%- endmacro %}
