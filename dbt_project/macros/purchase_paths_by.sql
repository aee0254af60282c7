{#- The channel sequences that lead to a purchase, over all periods (`by` empty) or per period of
    the purchase (`by` = ['period_start']): the paths of int_purchase_paths (for every identified
    sale, the channels of the customer's journey steps begun in the var('journey_lookback_days')
    days before it, consecutive repeats collapsed, ending with the sale's step) counted
    (definitions in _kpi__docs.md, block journeys). Shares and ranks are within the grain, so each
    grain is counted from the sales, in a table of its own. -#}
{% macro purchase_paths_by(by) -%}
{%- set keys = by | join(', ') ~ (', ' if by else '') -%}
{%- set within = ('partition by ' ~ by | join(', ')) if by else '' -%}
with collapsed as (
    select * from {{ ref('int_purchase_paths') }}
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
