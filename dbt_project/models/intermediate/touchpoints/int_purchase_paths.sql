-- One row per identified purchase: the channels of the customer's journey steps begun in the
-- var('journey_lookback_days') days before it, consecutive repeats collapsed, ending with the
-- purchase's own step (a web session with the order it placed is one step, on the order's
-- channel), and what the sale finally brought in (the average order value's amount). The
-- purchase-path marts count these (definitions in _kpi__docs.md, block journeys).
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with steps as (
    select * from {{ ref('int_customer_journey_steps') }}
    where {{ only_affected_customers() }}
),

sales_netted as (
    select * from {{ ref('int_sales_netted') }}
),

purchases as (
    select
        steps.customer_id,
        steps.step_id,
        steps.started_at,
        steps.ordered_at,
        steps.order_touchpoint_id,
        steps.channel,
        sales_netted.net_merchandise_amount_ht as amount,
        {{ kpi_period('steps.ordered_at') }} as period_start
    from steps
    left join sales_netted on steps.order_id = sales_netted.order_id
    where steps.order_touchpoint_id is not null
),

paths as (
    select
        purchases.customer_id,
        purchases.order_touchpoint_id,
        purchases.period_start,
        purchases.channel as purchase_channel,
        purchases.amount,
        list(before.channel order by before.started_at, before.step_id) as channels
    from purchases
    inner join steps as before
        on before.customer_id = purchases.customer_id
        and before.started_at between purchases.ordered_at - to_days({{ var('journey_lookback_days') }})
            and purchases.started_at
        and (before.started_at < purchases.started_at or before.step_id <= purchases.step_id)
    group by all
),

final as (
    select
        customer_id,
        order_touchpoint_id,
        period_start,
        purchase_channel,
        amount,
        list_filter(channels, lambda c, i: i = 1 or c <> channels[i - 1]) as path_channels
    from paths
)

select * from final
