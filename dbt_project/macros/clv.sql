{#- Customer value by number of purchase channels without look-ahead (_kpi__docs.md, block
    value_by_channel_count): the macros its marts share, so that the windows, the netting of a
    sale and the measures are written once. -#}

{#- `ts` (a timestamptz) moved `months` calendar months back, counted on the UTC calendar: the
    same instant whatever the session's time zone (timezone('UTC', ...) gives the UTC wall time). -#}
{% macro months_before(ts, months) -%}
    timezone('UTC', timezone('UTC', {{ ts }}) - to_months({{ months }}))
{%- endmacro %}

{#- Whole months from `since` to `until` (timestamptz), on the UTC calendar (DuckDB's date_sub):
    15 Jan 10:00 -> 15 Mar 09:00 is 1; a month's last day completes a month whose day it lacks
    (31 Jan -> 28 Feb is 1). -#}
{% macro whole_months_between(since, until) -%}
    date_sub('month', timezone('UTC', {{ since }}), timezone('UTC', {{ until }}))
{%- endmacro %}

{#- One row per sale of a purchase channel (seed channels) booked in (start_at, end_at], with what
    it finally brought in: its web refunds and every till return of it booked by end_at (a return
    counts against the sale it returns, block revenue_attribution; one booked after end_at is not
    known yet). `revenue` and `channels` are the names of the import CTEs of
    int_order_revenue_attributed and of the seed channels. Anonymous sales are kept (customer_id
    null): the coverage counts them. -#}
{% macro sales_netted_between(revenue, channels, start_at, end_at) -%}
    select
        sales.order_id,
        sales.revenue_customer_id as customer_id,
        sales.revenue_channel as channel,
        {{ channels }}.channel_group,
        sum(amounts.net_amount) as net_amount,
        sum(amounts.net_amount_ht) as net_amount_ht,
        sum(amounts.net_merchandise_amount_ht) as net_merchandise_amount_ht
    from {{ revenue }} as sales
    inner join {{ channels }} on sales.revenue_channel = {{ channels }}.channel
    inner join {{ revenue }} as amounts
        on sales.order_id = amounts.sale_order_id and amounts.booked_at <= {{ end_at }}
    where sales.order_type = 'sale'
        and {{ channels }}.is_purchase_channel
        and sales.booked_at > {{ start_at }}
        and sales.booked_at <= {{ end_at }}
    group by sales.order_id, sales.revenue_customer_id, sales.revenue_channel, {{ channels }}.channel_group
{%- endmacro %}

{#- The measures of value per buyer over rows of mart_clv_buyers grouped by purchase channel count
    (and, for the tenure mart, by `partition_by`): counts, net revenue of the value window, AOV,
    CLV HT per buyer with a 95 % normal interval (mean ± 1.96 standard errors) and
    clv_ht_is_reliable, the repurchase rate with its Wilson interval, and the CLV as a multiple of
    the single-channel buyers' in the same partition. -#}
{% macro clv_measures(partition_by=[]) -%}
    {%- set z = 1.96 -%}
    {%- set over = "over (" ~ ("partition by " ~ partition_by | join(", ") if partition_by else "") ~ ")" -%}
    {%- set clv = "(sum(value_net_revenue_ht) / count(*))" -%}
    {%- set half = "(" ~ z ~ " * stddev_samp(value_net_revenue_ht) / sqrt(count(*)))" -%}
    count(*) as buyers,
    round(count(*) / sum(count(*)) {{ over }}, 4) as share_of_buyers,
    count(*) filter (where value_orders > 0) as value_buyers,
    {{ rate_interval('count(*) filter (where value_orders > 0)', 'count(*)', 'repurchase_rate') }},
    -- sum() of a count(*) is a HUGEINT in DuckDB, which BI drivers cannot read: a BIGINT holds it.
    sum(value_orders)::bigint as value_orders,
    round(sum(value_orders) / count(*), 3) as orders_per_buyer,
    sum(value_net_revenue) as net_revenue,
    sum(value_net_revenue_ht) as net_revenue_ht,
    sum(value_net_merchandise_revenue_ht) as net_merchandise_revenue_ht,
    {{ average_order_value('sum(value_net_merchandise_revenue_ht)', 'sum(value_orders)') }} as average_order_value,
    round({{ clv }}, 2) as clv_ht,
    round({{ clv }} - {{ half }}, 2) as clv_ht_ci_low,
    round({{ clv }} + {{ half }}, 2) as clv_ht_ci_high,
    count(*) >= {{ var('min_sample_size') }} as clv_ht_is_reliable,
    round(
        {{ clv }} / nullif(max({{ clv }}) filter (where purchase_channel_count = 1) {{ over }}, 0),
        3
    ) as clv_ht_ratio_to_single_channel
{%- endmacro %}

{#- The window and coverage columns every mart of value by number of channels carries beside its
    figures, from mart_clv_window (one row, import CTE `window_name`). -#}
{% macro clv_window_columns(window_name) -%}
    {{ window_name }}.observation_start_at,
    {{ window_name }}.split_at,
    {{ window_name }}.value_end_at,
    {{ window_name }}.is_complete_observation,
    {{ window_name }}.identified_sale_share,
    {{ window_name }}.identified_revenue_share
{%- endmacro %}
