-- Cost to serve per period, channel and interaction, from the unit costs in the seed
-- interaction_unit_costs (definitions in _kpi__docs.md, block cost_to_serve).
with costs as (
    select * from {{ ref('int_touchpoint_costs') }}
),

final as (
    select
        period_start,
        channel,
        interaction,
        any_value(unit_cost_eur) as unit_cost_eur,
        count(*) as interactions,
        count(customer_id) as identified_interactions,
        sum(unit_cost_eur) as cost_eur,
        -- Null in a period that cost nothing (so far: the first day of a month may hold only
        -- free interactions): a share of zero is undefined, and 0 / 0 is not a share.
        round(sum(unit_cost_eur) / nullif(sum(sum(unit_cost_eur)) over (partition by period_start), 0), 4)
            as share_of_period_cost
    from costs
    group by period_start, channel, interaction
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
