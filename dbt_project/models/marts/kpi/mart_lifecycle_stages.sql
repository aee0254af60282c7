-- Customers per lifecycle stage at the end of each period (definitions in _kpi__docs.md, block
-- lifecycle): who was a prospect, new, active, lapsing or lapsed then, from purchases before it.
with window_ as (
    select * from {{ ref('int_data_window') }}
),

periods as (
    select
        period_start::date as period_start,
        -- The period's end in the reporting time zone, or as_of for the period still running.
        least(
            timezone('{{ var("reporting_timezone") }}', (period_start + interval '1 {{ var("kpi_period") }}')::timestamp),
            (select as_of from window_)
        ) as ends_at
    from (
        select unnest(generate_series(
            date_trunc('{{ var("kpi_period") }}', timezone('{{ var("reporting_timezone") }}', history_start_at)),
            date_trunc('{{ var("kpi_period") }}', timezone('{{ var("reporting_timezone") }}', as_of)),
            interval '1 {{ var("kpi_period") }}'
        )) as period_start
        from window_
    )
),

customers as (
    select customer_id, first_seen_at from {{ ref('dim_customers') }}
),

sales as (
    select customer_id, ordered_at from {{ ref('int_orders_unioned') }}
    where order_type = 'sale' and customer_id is not null
),

first_sales as (
    select customer_id, min(ordered_at) as first_purchase_at from sales group by customer_id
),

-- Every customer already known at the end of each period, with their last purchase before it.
known as (
    select periods.period_start, periods.ends_at, customers.customer_id, first_sales.first_purchase_at
    from periods
    inner join customers on customers.first_seen_at < periods.ends_at
    left join first_sales on customers.customer_id = first_sales.customer_id
),

staged as (
    select
        known.period_start,
        {{ lifecycle_stage(
            'case when known.first_purchase_at < known.ends_at then known.first_purchase_at end',
            'last_sale.ordered_at', 'known.ends_at'
        ) }} as lifecycle_stage
    from known
    asof left join sales as last_sale
        on known.customer_id = last_sale.customer_id and known.ends_at > last_sale.ordered_at
),

final as (
    select
        period_start,
        lifecycle_stage,
        {{ is_complete_history('period_start') }} as is_complete_history,
        count(*) as customers,
        round(count(*) / sum(count(*)) over (partition by period_start), 4) as share_of_customers
    from staged
    group by period_start, lifecycle_stage
)

select
    final.*,
    {{ is_partial_period('final.period_start') }} as is_partial_period
from final
