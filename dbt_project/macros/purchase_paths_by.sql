{#- The channel sequences that lead to a purchase, over all periods (`by` empty) or per period of
    the purchase (`by` = ['period_start']): for every identified sale, the channels the customer
    used in the var('journey_lookback_days') days before it, consecutive repeats collapsed, ending
    with the purchase channel (definitions in _kpi__docs.md, block journeys). Shares and ranks are
    within the grain, so each grain is counted from the sales, in a table of its own. -#}
{% macro purchase_paths_by(by) -%}
{%- set keys = by | join(', ') ~ (', ' if by else '') -%}
{%- set within = ('partition by ' ~ by | join(', ')) if by else '' -%}
with touchpoints as (
    select * from {{ ref('fct_touchpoints') }}
    where customer_id is not null and touchpoint_type <> 'survey'
),

purchases as (
    select touchpoint_id, customer_id, occurred_at, channel, amount, {{ kpi_period('occurred_at') }} as period_start
    from touchpoints
    where touchpoint_type = 'order'
),

paths as (
    select
        purchases.touchpoint_id,
        purchases.period_start,
        purchases.channel as purchase_channel,
        purchases.amount,
        list(before.channel order by before.occurred_at, before.touchpoint_id) as channels
    from purchases
    inner join touchpoints as before
        on before.customer_id = purchases.customer_id
        and before.occurred_at between purchases.occurred_at - to_days({{ var('journey_lookback_days') }})
            and purchases.occurred_at
        and (before.occurred_at < purchases.occurred_at or before.touchpoint_id <= purchases.touchpoint_id)
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
        round(avg(amount), 2) as average_order_value
    from collapsed
    group by all
),

final as (
    select
        {{ keys }}path,
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
