-- The journey table: every interaction in time order, numbered per customer, with the channel,
-- type and time of the customer's previous interaction. A survey answer is numbered but is never
-- "the previous interaction": it rates a channel, it is not one. The journey marts group these
-- into steps (a web session with the order it placed is one: int_customer_journey_steps).
-- Incremental (docs/dbt.md, "Incremental models"): a build renumbers the timeline of every
-- customer with a touchpoint that is new, changed (another customer, a corrected record) or gone
-- since the last build; the post-hook removes the touchpoints that are gone.
-- Its tests read the rows of the customers changed in the build and the anonymous rows
-- (docs/dbt.md, "Tests of a day"); depends_on: {{ ref('int_customer_changes') }}
{{ config(
    materialized='incremental',
    unique_key='touchpoint_id',
    full_refresh=full_refresh_at_as_of(),
    meta={'test_scope': 'changed_customers'},
    post_hook="delete from {{ this }} where touchpoint_id not in (select touchpoint_id from {{ ref('int_touchpoints_unioned') }})"
) }}

with touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
),

{% if is_incremental() %}
-- Touchpoints new, changed (another customer, a corrected record) or gone since the last build.
changed as (
    select
        coalesce(touchpoints.touchpoint_id, previous.touchpoint_id) as touchpoint_id,
        touchpoints.customer_id,
        previous.customer_id as previous_customer_id
    from touchpoints
    full outer join {{ this }} as previous on touchpoints.touchpoint_id = previous.touchpoint_id
    where (
        touchpoints.customer_id, touchpoints.occurred_at, touchpoints.channel, touchpoints.touchpoint_type,
        touchpoints.source_record_id, touchpoints.store_code, touchpoints.amount
    ) is distinct from (
        previous.customer_id, previous.occurred_at, previous.channel, previous.touchpoint_type,
        previous.source_record_id, previous.store_code, previous.amount
    )
),

-- Those, and the whole timeline of every customer they belong or belonged to (it is renumbered).
to_build as (
    select * from touchpoints
    where touchpoint_id in (select touchpoint_id from changed)
        or customer_id in (select customer_id from changed)
        or customer_id in (select previous_customer_id from changed)
),

{% else %}
to_build as (
    select * from touchpoints
),

{% endif %}
with_interaction as (
    select
        *,
        case when touchpoint_type <> 'survey' then touchpoint_id end as interaction_id
    from to_build
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
