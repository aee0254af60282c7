-- Every touchpoint priced from the seed interaction_unit_costs: the most specific matching row
-- wins (a row naming the contact channel beats one that does not; a blank channel matches any).
-- Reads the intermediate models the facts are built from, not the facts themselves. Refunds of
-- web and click & collect orders are priced too (interaction web_refund / click_and_collect_refund):
-- they are no touchpoint of their own (the web shop exports a refunded amount, not a refund event),
-- so they are dated at the order.
with touchpoints as (
    select touchpoint_id, customer_id, occurred_at, channel, touchpoint_type, source_record_id
    from {{ ref('int_touchpoints_unioned') }}
    union all
    select 'refund:' || order_id, customer_id, ordered_at, channel, 'refund', order_id
    from {{ ref('int_orders_unioned') }}
    where order_type = 'sale' and channel <> 'store' and refunded_amount <> 0
),

tickets as (
    select ticket_id, contact_channel from {{ ref('int_service_tickets_sequenced') }}
),

unit_costs as (
    select * from {{ ref('interaction_unit_costs') }}
),

with_contact_channel as (
    select touchpoints.*, tickets.contact_channel
    from touchpoints
    left join tickets on touchpoints.touchpoint_type = 'ticket' and touchpoints.source_record_id = tickets.ticket_id
),

priced as (
    select
        with_contact_channel.touchpoint_id,
        with_contact_channel.customer_id,
        with_contact_channel.occurred_at,
        {{ kpi_period('with_contact_channel.occurred_at') }} as period_start,
        with_contact_channel.channel,
        with_contact_channel.touchpoint_type,
        with_contact_channel.contact_channel,
        unit_costs.interaction,
        unit_costs.unit_cost_eur
    from with_contact_channel
    left join unit_costs
        on with_contact_channel.touchpoint_type = unit_costs.touchpoint_type
        and (unit_costs.channel is null or with_contact_channel.channel = unit_costs.channel)
        and (unit_costs.contact_channel is null or with_contact_channel.contact_channel = unit_costs.contact_channel)
    qualify row_number() over (
        partition by with_contact_channel.touchpoint_id
        order by (unit_costs.contact_channel is not null) desc, (unit_costs.channel is not null) desc
    ) = 1
)

select * from priced
