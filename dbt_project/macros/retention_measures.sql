{#- The measures of a retention row from its customer counts, each rate with its 95 % Wilson
    interval (definitions in _kpi__docs.md, block retention): written once for
    mart_retention_by_segment and mart_retention, which sums the segments' counts and computes the
    rates again from the sums. -#}
{% macro retention_measures() -%}
    active_customers,
    new_customers,
    customers_at_start,
    retained_customers,
    {{ rate_interval('retained_customers', 'customers_at_start', 'cohort_retention_rate') }},
    repeat_buyers,
    {{ rate_interval('repeat_buyers', 'active_customers', 'repeat_purchase_rate') }},
    retention_base_12m,
    retained_12m,
    {{ rate_interval('retained_12m', 'retention_base_12m', 'retention_rate_12m') }},
    repeat_buyer_retention_base_12m,
    repeat_buyer_retained_12m,
    {{ rate_interval(
        'repeat_buyer_retained_12m', 'repeat_buyer_retention_base_12m', 'repeat_buyer_retention_rate_12m'
    ) }}
{%- endmacro %}
