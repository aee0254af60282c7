-- The journey table: every interaction in time order, numbered per customer, with the channel,
-- type and time of the customer's previous interaction (for transitions). A survey answer is
-- numbered but is never "the previous interaction": it rates a channel, it is not one.
with touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
),

with_interaction as (
    select
        *,
        case when touchpoint_type <> 'survey' then touchpoint_id end as interaction_id
    from touchpoints
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
            row_number() over customer_timeline
        end as customer_touchpoint_number,
        case when customer_id is not null then
            lag(case when interaction_id is not null then channel end ignore nulls) over customer_timeline
        end as previous_channel,
        case when customer_id is not null then
            lag(case when interaction_id is not null then touchpoint_type end ignore nulls) over customer_timeline
        end as previous_touchpoint_type,
        case when customer_id is not null then
            lag(case when interaction_id is not null then occurred_at end ignore nulls) over customer_timeline
        end as previous_occurred_at
    from with_interaction
    window customer_timeline as (partition by customer_id order by occurred_at, touchpoint_id)
)

select * from final
