-- Returns moved to their sale's customer and channel neither create nor lose revenue: the net
-- revenue of mart_net_revenue is fct_orders' net_amount, and its identified part, per channel,
-- is what dim_customers holds. Returns one row per measure that differs.
{{ config(meta={'dagster': {'ref': {'name': 'mart_net_revenue'}}}) }}

with net_revenue as (
    select * from {{ ref('mart_net_revenue') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

mart_totals as (
    select
        coalesce(sum(net_revenue), 0) as net_revenue,
        coalesce(sum(identified_net_revenue) filter (where channel = 'store'), 0) as store_revenue,
        coalesce(sum(identified_net_revenue) filter (where channel = 'web'), 0) as web_revenue,
        coalesce(sum(identified_net_revenue) filter (where channel = 'click_and_collect'), 0)
            as click_and_collect_revenue
    from net_revenue
),

source_totals as (
    select
        (select coalesce(sum(net_amount), 0) from orders) as net_revenue,
        coalesce(sum(store_revenue), 0) as store_revenue,
        coalesce(sum(web_revenue), 0) as web_revenue,
        coalesce(sum(click_and_collect_revenue), 0) as click_and_collect_revenue
    from customers
)

select 'net_revenue' as measure, source_totals.net_revenue as source_value, mart_totals.net_revenue as mart_value
from source_totals, mart_totals where source_totals.net_revenue <> mart_totals.net_revenue
union all
select 'store_revenue', source_totals.store_revenue, mart_totals.store_revenue
from source_totals, mart_totals where source_totals.store_revenue <> mart_totals.store_revenue
union all
select 'web_revenue', source_totals.web_revenue, mart_totals.web_revenue
from source_totals, mart_totals where source_totals.web_revenue <> mart_totals.web_revenue
union all
select 'click_and_collect_revenue', source_totals.click_and_collect_revenue, mart_totals.click_and_collect_revenue
from source_totals, mart_totals where source_totals.click_and_collect_revenue <> mart_totals.click_and_collect_revenue
