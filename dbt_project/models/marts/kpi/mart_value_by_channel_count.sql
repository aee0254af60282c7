-- Customer value by the number of purchase channels, without look-ahead: buyers of the
-- observation window by the purchase channels they used in it, valued over the value window that
-- follows (definitions in _kpi__docs.md, block value_by_channel_count). The headline CLV by
-- number of channels; the same per tenure band in mart_value_by_channel_count_and_tenure.
with buyers as (
    select * from {{ ref('mart_clv_buyers') }}
),

clv_window as (
    select * from {{ ref('mart_clv_window') }}
),

measured as (
    select
        purchase_channel_count,
        {{ clv_measures() }}
    from buyers
    group by purchase_channel_count
),

final as (
    select
        measured.*,
        {{ clv_window_columns('clv_window') }}
    from measured
    cross join clv_window
)

select * from final
