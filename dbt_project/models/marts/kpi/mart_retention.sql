-- Retention per period, every customer whatever their segment: one row per period, the headline
-- (definitions in _kpi__docs.md, block retention). Each segment's customers are counted once in
-- mart_retention_by_segment (a customer has one segment at a time), so the counts here are their
-- sums and the rates are computed again from them. Beside them, what they cannot see: the period's
-- share of till tickets and web orders that name a customer (macro identification_coverage).
with by_segment as (
    select * from {{ ref('mart_retention_by_segment') }}
),

coverage as (
    {{ identification_coverage(['till_ticket', 'web_order']) | indent(4) }}
),

summed as (
    select
        period_start,
        is_complete_history,
        is_partial_period,
        sum(active_customers)::bigint as active_customers,
        sum(new_customers)::bigint as new_customers,
        sum(customers_at_start)::bigint as customers_at_start,
        sum(retained_customers)::bigint as retained_customers,
        sum(repeat_buyers)::bigint as repeat_buyers,
        sum(retention_base_12m)::bigint as retention_base_12m,
        sum(retained_12m)::bigint as retained_12m,
        sum(repeat_buyer_retention_base_12m)::bigint as repeat_buyer_retention_base_12m,
        sum(repeat_buyer_retained_12m)::bigint as repeat_buyer_retained_12m
    from by_segment
    group by period_start, is_complete_history, is_partial_period
),

final as (
    select
        summed.period_start,
        summed.is_complete_history,
        summed.is_partial_period,
        {{ retention_measures() | indent(4) }},
        coverage.identified_till_ticket_share,
        coverage.identified_web_order_share
    from summed
    left join coverage on summed.period_start = coverage.period_start
)

select * from final
