-- Every touchpoint priced from the seed interaction_unit_costs: the most specific matching row
-- wins (a row naming the contact channel beats one that does not; a blank channel matches any).
-- Reads the intermediate models the facts are built from, not the facts themselves. Refunds of
-- web and click & collect orders are priced too (interaction web_refund / click_and_collect_refund):
-- they are no touchpoint of their own (the web shop exports a refunded amount, not a refund event),
-- so they are dated at the order.
-- Each cost is also allocated to the sale it serves and that sale's channel (definitions in
-- _kpi__docs.md, block cost_per_order): an order, its refund and pickup are the sale itself; a till
-- return, the sale it returns; a service ticket, the order it names (order_ref); a survey answer,
-- the order it rates, else what the ticket it rates is allocated to. A ticket naming no order of
-- the data stays in the service channel, unallocated.
with touchpoints as (
    select touchpoint_id, customer_id, occurred_at, channel, touchpoint_type, source_record_id
    from {{ ref('int_touchpoints_unioned') }}
    union all
    select 'refund:' || order_id, customer_id, ordered_at, channel, 'refund', order_id
    from {{ ref('int_orders_unioned') }}
    where order_type = 'sale' and channel <> 'store' and refunded_amount <> 0
),

tickets as (
    select ticket_id, contact_channel, order_ref from {{ ref('int_service_tickets_sequenced') }}
),

surveys as (
    select response_id, order_ref, ticket_ref from {{ ref('int_survey_responses_joined') }}
),

revenue as (
    select order_id, sale_order_id, revenue_channel from {{ ref('int_order_revenue_attributed') }}
),

unit_costs as (
    select * from {{ ref('interaction_unit_costs') }}
),

with_contact_channel as (
    select
        touchpoints.*,
        tickets.contact_channel,
        -- The order the touchpoint is about: itself for an order, a return, a refund or a pickup.
        case
            when touchpoints.touchpoint_type in ('order', 'return', 'refund', 'pickup') then touchpoints.source_record_id
            when touchpoints.touchpoint_type = 'ticket' then tickets.order_ref
            when touchpoints.touchpoint_type = 'survey' then coalesce(surveys.order_ref, rated_tickets.order_ref)
        end as concerned_order_id
    from touchpoints
    left join tickets on touchpoints.touchpoint_type = 'ticket' and touchpoints.source_record_id = tickets.ticket_id
    left join surveys on touchpoints.touchpoint_type = 'survey' and touchpoints.source_record_id = surveys.response_id
    left join tickets as rated_tickets on surveys.ticket_ref = rated_tickets.ticket_id
),

allocated as (
    select
        with_contact_channel.*,
        revenue.sale_order_id,
        -- A visit or a cart is the web channel's; a ticket (or its survey) naming no order of the
        -- data stays where it came in: service.
        coalesce(revenue.revenue_channel, with_contact_channel.channel) as allocated_channel
    from with_contact_channel
    left join revenue on with_contact_channel.concerned_order_id = revenue.order_id
),

priced as (
    select
        allocated.touchpoint_id,
        allocated.customer_id,
        allocated.occurred_at,
        {{ kpi_period('allocated.occurred_at') }} as period_start,
        allocated.channel,
        allocated.touchpoint_type,
        allocated.contact_channel,
        allocated.sale_order_id,
        allocated.allocated_channel,
        unit_costs.interaction,
        unit_costs.unit_cost_eur
    from allocated
    left join unit_costs
        on allocated.touchpoint_type = unit_costs.touchpoint_type
        and (unit_costs.channel is null or allocated.channel = unit_costs.channel)
        and (unit_costs.contact_channel is null or allocated.contact_channel = unit_costs.contact_channel)
    qualify row_number() over (
        partition by allocated.touchpoint_id
        order by (unit_costs.contact_channel is not null) desc, (unit_costs.channel is not null) desc
    ) = 1
)

select * from priced
