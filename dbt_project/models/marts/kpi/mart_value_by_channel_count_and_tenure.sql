-- Customer value by the number of purchase channels within each tenure band (months since the
-- first purchase at the split date): the channel effect read among customers of the same
-- seniority, since a longer-standing customer has had more time to try channels (definitions in
-- _kpi__docs.md, block value_by_channel_count).
with buyers as (
    select * from {{ ref('mart_clv_buyers') }}
),

clv_window as (
    select * from {{ ref('mart_clv_window') }}
),

measured as (
    select
        tenure_band,
        tenure_band_start_months,
        purchase_channel_count,
        {{ clv_measures(partition_by=['tenure_band']) }}
    from buyers
    group by tenure_band, tenure_band_start_months, purchase_channel_count
),

final as (
    select
        measured.*,
        {{ clv_window_columns('clv_window') }}
    from measured
    cross join clv_window
)

select * from final
