-- Net revenue per period and channel, from sales to net with returns on their own lines: returns
-- attributed to a sale count in the sale's channel, those whose sale is not in the data apart
-- (definitions in _kpi__docs.md, block net_revenue; attribution in _core__docs.md, block
-- revenue_attribution). Net revenue tax included (TTC, as the exports give it) and without VAT
-- (HT: each line's product universe's rate, int_order_revenue_attributed), shipping on its own.
with revenue as (
    select * from {{ ref('int_order_revenue_attributed') }}
),

dated as (
    select *, {{ kpi_period('booked_at') }} as period_start
    from revenue
),

final as (
    select
        period_start,
        revenue_channel as channel,
        count(*) filter (where order_type = 'sale') as sales,
        coalesce(sum(amount) filter (where order_type = 'sale'), 0) as gross_sales_amount,
        coalesce(sum(refunded_amount) filter (where order_type = 'sale'), 0) as refunded_amount,
        count(*) filter (where order_type = 'return' and not is_unattributed_return) as attributed_returns,
        coalesce(sum(net_amount) filter (where order_type = 'return' and not is_unattributed_return), 0)
            as attributed_returns_amount,
        count(*) filter (where is_unattributed_return) as unattributed_returns,
        coalesce(sum(net_amount) filter (where is_unattributed_return), 0) as unattributed_returns_amount,
        sum(net_amount) as net_revenue,
        coalesce(sum(net_amount) filter (where revenue_customer_id is not null), 0) as identified_net_revenue,
        sum(net_merchandise_amount) as net_merchandise_revenue,
        sum(net_merchandise_amount_ht) as net_merchandise_revenue_ht,
        sum(shipping_amount) as shipping_revenue,
        sum(shipping_amount_ht) as shipping_revenue_ht,
        sum(net_amount_ht) as net_revenue_ht,
        sum(vat_amount) as vat_amount
    from dated
    group by period_start, revenue_channel
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
