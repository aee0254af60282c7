{#- The channel sequences that lead to a purchase, over all periods (`by` empty) or per period of
    the purchase (`by` = ['period_start']): for every identified sale, the channels of the
    customer's journey steps (macro journey_steps: a web session with the order it placed is one
    step, on the order's channel) begun in the var('journey_lookback_days') days before it,
    consecutive repeats collapsed, ending with the sale's step (definitions in _kpi__docs.md, block
    journeys). Shares and ranks are within the grain, so each grain is counted from the sales, in
    a table of its own. -#}
{% macro purchase_paths_by(by) -%}
{%- set keys = by | join(', ') ~ (', ' if by else '') -%}
{%- set within = ('partition by ' ~ by | join(', ')) if by else '' -%}
with steps as (
    {{ journey_steps() | indent(4) }}
),

sales_netted as (
    select * from {{ ref('int_sales_netted') }}
),

purchases as (
    -- Each purchase with what its sale finally brought in (the average order value's amount).
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

collapsed as (
    select
        *,
        list_filter(channels, lambda c, i: i = 1 or c <> channels[i - 1]) as path_channels
    from paths
),

counted as (
    select
        {{ keys }}array_to_string(path_channels, ' > ') as path,
        any_value(len(path_channels)) as path_length,
        any_value(purchase_channel) as purchase_channel,
        count(*) as purchases,
        {{ average_order_value('sum(amount)', 'count(*)') }} as average_order_value
    from collapsed
    group by all
),

final as (
    select
        {% for column in by %}{{ column }},
        {% endfor -%}
        {% if 'period_start' in by -%}
        {{ is_partial_period('period_start') }} as is_partial_period,
        {% endif -%}
        path,
        path_length,
        purchase_channel,
        purchases,
        round(purchases / sum(purchases) over ({{ within }}), 4) as share_of_purchases,
        average_order_value,
        row_number() over ({{ within }} order by purchases desc, path) as path_rank
    from counted
)

select * from final
{%- endmacro %}
