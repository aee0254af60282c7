-- The journey table: every interaction in time order, numbered per customer, with the channel
-- and type of the previous interaction of the same customer (for transitions).
with touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
),

final as (
    select
        touchpoint_id,
        customer_id,
        occurred_at,
        channel,
        touchpoint_type,
        source_record_id,
        store_code,
        amount,
        case when customer_id is not null then
            row_number() over (partition by customer_id order by occurred_at, touchpoint_id)
        end as customer_touchpoint_number,
        case when customer_id is not null then
            lag(channel) over (partition by customer_id order by occurred_at, touchpoint_id)
        end as previous_channel,
        case when customer_id is not null then
            lag(touchpoint_type) over (partition by customer_id order by occurred_at, touchpoint_id)
        end as previous_touchpoint_type
    from touchpoints
)

select * from final
