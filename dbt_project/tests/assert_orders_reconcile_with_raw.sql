-- Revenue and order counts in fct_orders equal the raw layer's (quarantined rows never reach raw),
-- counting the latest delivered version of each ticket and order (a corrected re-delivery
-- replaces the earlier one; raw keeps both), as at var as_of when it is set (macros in as_of.sql:
-- tickets and orders after it left out, refunds after it undone). Returns one row per measure
-- that differs.
{{ config(meta={'dagster': {'ref': {'name': 'fct_orders'}}}) }}

with pos_tickets as (
    select * from {{ source('pos', 'pos_tickets') }}
    where {{ happened_by_as_of("timezone('Europe/Paris', date_heure)") }}
    {{ latest_delivered('num_ticket') }}
),

ecommerce_orders as (
    select * replace (
        case when {{ reached_after_as_of(web_refund_at('created_at')) }} then 0 else refunded_amount end
            as refunded_amount
    )
    from {{ source('ecommerce', 'ecommerce_orders') }}
    where {{ happened_by_as_of('created_at') }}
    {{ latest_delivered('order_id') }}
),

raw_totals as (
    select
        (select count(*) from pos_tickets where upper(trim(type_ticket)) = 'VENTE')
        + (select count(*) from ecommerce_orders) as sales,
        (select count(*) from pos_tickets where upper(trim(type_ticket)) = 'RETOUR') as returns,
        (select coalesce(sum(montant_ttc), 0) from pos_tickets)
        + (select coalesce(sum(total - coalesce(refunded_amount, 0)), 0)
           from ecommerce_orders) as revenue
),

mart_totals as (
    select
        count(*) filter (where order_type = 'sale') as sales,
        count(*) filter (where order_type = 'return') as returns,
        coalesce(sum(net_amount), 0) as revenue
    from {{ ref('fct_orders') }}
)

select 'sales' as measure, raw_totals.sales::decimal(38, 2) as raw_value, mart_totals.sales::decimal(38, 2) as mart_value
from raw_totals, mart_totals where raw_totals.sales <> mart_totals.sales
union all
select 'returns', raw_totals.returns, mart_totals.returns
from raw_totals, mart_totals where raw_totals.returns <> mart_totals.returns
union all
select 'revenue', raw_totals.revenue, mart_totals.revenue
from raw_totals, mart_totals where raw_totals.revenue <> mart_totals.revenue
