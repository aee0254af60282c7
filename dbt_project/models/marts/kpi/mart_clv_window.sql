-- The windows of customer value by number of channels, one row (definitions in _kpi__docs.md,
-- block value_by_channel_count): the observation window, where purchase channels are counted,
-- then the value window, where value is measured, ending at as_of; and the value window's
-- coverage: how much of its sales and revenue is identified (an anonymous till ticket belongs to
-- no customer, so no customer-level figure can see it).
with data_window as (
    select * from {{ ref('int_data_window') }}
),

revenue as (
    select * from {{ ref('int_order_revenue_attributed') }}
),

channels as (
    select * from {{ ref('channels') }}
),

split as (
    select
        history_start_at,
        {{ months_before('as_of', var('clv_value_months')) }} as split_at,
        as_of as value_end_at
    from data_window
),

windows as (
    select
        {{ months_before('split_at', var('clv_observation_months')) }} as observation_start_at,
        split_at,
        value_end_at,
        history_start_at
    from split
),

value_sales as (
    {{ sales_netted_between('revenue', 'channels',
        '(select split_at from windows)', '(select value_end_at from windows)') }}
),

coverage as (
    select
        count(*) as value_sales,
        count(customer_id) as identified_value_sales,
        coalesce(sum(net_amount), 0) as value_net_revenue,
        coalesce(sum(net_amount) filter (where customer_id is not null), 0) as identified_value_net_revenue,
        coalesce(sum(net_amount_ht), 0) as value_net_revenue_ht,
        coalesce(sum(net_amount_ht) filter (where customer_id is not null), 0) as identified_value_net_revenue_ht
    from value_sales
),

final as (
    select
        windows.observation_start_at,
        windows.split_at,
        windows.value_end_at,
        {{ var('clv_observation_months') }} as observation_months,
        {{ var('clv_value_months') }} as value_months,
        windows.history_start_at,
        {{ whole_months_between('windows.history_start_at', 'windows.split_at') }} as history_months_before_split,
        windows.history_start_at <= windows.observation_start_at as is_complete_observation,
        coverage.value_sales,
        coverage.identified_value_sales,
        round(coverage.identified_value_sales / nullif(coverage.value_sales, 0), 4) as identified_sale_share,
        coverage.value_net_revenue,
        coverage.identified_value_net_revenue,
        coverage.value_net_revenue_ht,
        coverage.identified_value_net_revenue_ht,
        round(coverage.identified_value_net_revenue_ht / nullif(coverage.value_net_revenue_ht, 0), 4)
            as identified_revenue_share
    from windows
    cross join coverage
)

select * from final
