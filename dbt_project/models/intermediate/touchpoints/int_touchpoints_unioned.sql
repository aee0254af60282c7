-- Every interaction, identified or not, as one event: visit, cart, order, return, pickup, ticket,
-- survey. fct_touchpoints numbers them per customer; the KPI marts read that.
-- A view: reading a union of four tables costs what copying it would, and fct_touchpoints, built
-- incrementally from it, compares it with what it holds at every build (docs/dbt.md).
{{ config(materialized='view') }}

with sessions as (
    select * from {{ ref('int_web_sessions_aggregated') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

tickets as (
    select * from {{ ref('int_service_tickets_sequenced') }}
),

surveys as (
    select * from {{ ref('int_survey_responses_joined') }}
),

unioned as (
    select
        'visit:' || session_id as touchpoint_id, customer_id, started_at as occurred_at, 'web' as channel,
        'visit' as touchpoint_type, session_id as source_record_id, null as store_code,
        null::decimal(18, 2) as amount
    from sessions
    union all
    select
        'cart:' || session_id, customer_id, first_add_to_cart_at, 'web', 'cart', session_id, null, null
    from sessions
    where first_add_to_cart_at is not null
    union all
    select
        order_type || ':' || order_id, customer_id, ordered_at, channel,
        case order_type when 'sale' then 'order' else 'return' end, order_id, store_code, net_amount
    from orders
    union all
    select 'pickup:' || order_id, customer_id, collected_at, 'click_and_collect', 'pickup', order_id, store_code, null
    from orders
    where collected_at is not null
    union all
    select 'ticket:' || ticket_id, customer_id, created_at, 'service', 'ticket', ticket_id, store_code, null
    from tickets
    union all
    select 'survey:' || response_id, customer_id, submitted_at, channel, 'survey', response_id, store_code, null
    from surveys
)

select * from unioned
