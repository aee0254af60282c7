-- Survey answers with the customer (the respondent record, else the order or ticket they rate)
-- and the channel of the rated touchpoint.
with responses as (
    select * from {{ ref('stg_survey__responses') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

tickets as (
    select * from {{ ref('int_service_tickets_sequenced') }}
),

final as (
    select
        responses.response_id,
        coalesce(respondents.customer_id, orders.customer_id, tickets.customer_id) as customer_id,
        responses.survey_id,
        responses.touchpoint,
        case
            when responses.touchpoint = 'service_contact' then 'service'
            when responses.touchpoint = 'click_and_collect_pickup' then 'click_and_collect'
            when responses.touchpoint = 'store_purchase' then 'store'
            when responses.touchpoint = 'web_purchase' then coalesce(orders.channel, 'web')
        end as channel,
        tickets.contact_channel as rated_contact_channel,
        responses.submitted_at,
        responses.nps_score,
        responses.csat_score,
        responses.ces_score,
        case
            when responses.nps_score >= 9 then 'promoter'
            when responses.nps_score >= 7 then 'passive'
            when responses.nps_score >= 0 then 'detractor'
        end as nps_category,
        responses.verbatim,
        responses.order_ref,
        responses.ticket_ref,
        coalesce(responses.store_code, orders.store_code) as store_code
    from responses
    left join customer_ids as respondents
        on respondents.source_system = 'survey_responses' and responses.response_id = respondents.source_record_id
    left join orders on responses.order_ref = orders.order_id
    left join tickets on responses.ticket_ref = tickets.ticket_id
)

select * from final
