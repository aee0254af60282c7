-- Web orders per period and fulfilment mode (home delivery, relay point, click & collect): volume,
-- value, refunds (online, or brought back to a store), delays where the export dates them, and the satisfaction of the surveys about
-- those orders (definitions in _kpi__docs.md, block fulfilment_modes).
with web_orders as (
    select *, {{ kpi_period('ordered_at') }} as period_start
    from {{ ref('fct_orders') }}
    where source_system = 'ecommerce' and order_type = 'sale'
),

sales_netted as (
    select * from {{ ref('int_sales_netted') }}
),

orders as (
    -- Each web order with what it finally brought in, returns in store included (the average
    -- order value's amount).
    select web_orders.*, sales_netted.net_merchandise_amount_ht as sale_net_merchandise_amount_ht
    from web_orders
    left join sales_netted on web_orders.order_id = sales_netted.order_id
),

returned_in_store as (
    -- Web orders brought back to a store: a till return referencing the order.
    select distinct original_order_id as order_id
    from {{ ref('fct_orders') }}
    where order_type = 'return' and returned_order_channel in ('web', 'click_and_collect')
),

surveys as (
    -- Surveys about a web order: after the purchase, or after the click & collect pickup.
    select orders.period_start, orders.fulfilment_method, responses.*
    from {{ ref('fct_survey_responses') }} as responses
    inner join orders on responses.order_ref = orders.order_id
),

satisfaction as (
    select period_start, fulfilment_method, {{ satisfaction_measures() }}
    from surveys
    group by period_start, fulfilment_method
),

measured as (
    select
        period_start,
        fulfilment_method,
        count(*) as orders,
        round(count(*) / sum(count(*)) over (partition by period_start), 4) as share_of_web_orders,
        {{ average_order_value('sum(sale_net_merchandise_amount_ht)', 'count(*)') }} as average_order_value,
        count(*) filter (where refunded_amount <> 0) as refunded_orders,
        {{ rate_interval('count(*) filter (where refunded_amount <> 0)', 'count(*)', 'refund_rate') }},
        count(*) filter (where order_id in (select order_id from returned_in_store)) as returned_in_store_orders,
        {{ rate_interval(
            'count(*) filter (where order_id in (select order_id from returned_in_store))', 'count(*)',
            'returned_in_store_rate'
        ) }},
        -- Only click & collect is dated beyond the order: ready in store, then collected.
        round(median(date_diff('minute', ordered_at, ready_for_pickup_at)) / 60.0, 1) as median_hours_to_ready,
        round(median(date_diff('minute', ready_for_pickup_at, collected_at)) / 60.0, 1)
            as median_hours_ready_to_collected
    from orders
    group by period_start, fulfilment_method
),

final as (
    select
        measured.*,
        coalesce(satisfaction.responses, 0) as survey_responses,
        satisfaction.nps,
        satisfaction.nps_ci_low,
        satisfaction.nps_ci_high,
        satisfaction.csat,
        satisfaction.csat_ci_low,
        satisfaction.csat_ci_high,
        coalesce(satisfaction.is_reliable, false) as is_reliable
    from measured
    left join satisfaction
        on measured.period_start = satisfaction.period_start
        and measured.fulfilment_method = satisfaction.fulfilment_method
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
