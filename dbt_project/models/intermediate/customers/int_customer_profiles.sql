-- The customer 360 before the columns that depend on as_of (dim_customers adds them): one row per
-- customer_id, the golden record plus activity across channels. Customer-grain incremental
-- (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with survived as (
    select * from {{ ref('int_customers_survived') }}
    where {{ only_affected_customers() }}
),

touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
    where {{ only_affected_customers() }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where {{ only_affected_customers() }}
),

revenue as (
    select * from {{ ref('int_order_revenue_attributed') }}
    where {{ only_affected_customers('revenue_customer_id') }}
),

consents as (
    select * from {{ ref('int_consents_latest') }}
    where {{ only_affected_customers() }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
    where {{ only_affected_customers() }}
),

activity as (
    select
        customer_id,
        min(occurred_at) as first_interaction_at,
        max(occurred_at) as last_interaction_at,
        -- Channels the customer interacted through: surveys rate a channel, they are not one.
        list_sort(list(distinct channel) filter (where touchpoint_type <> 'survey')) as interaction_channels,
        count(*) filter (where touchpoint_type = 'ticket') as service_contacts,
        count(*) filter (where touchpoint_type = 'survey') as survey_responses,
        count(*) filter (where touchpoint_type = 'visit') as web_sessions
    from touchpoints
    where customer_id is not null
    group by customer_id
),

order_totals as (
    select
        customer_id,
        count(*) filter (where order_type = 'sale') as orders,
        count(*) filter (where order_type = 'sale' and channel = 'store') as store_orders,
        count(*) filter (where order_type = 'sale' and channel = 'web') as web_orders,
        count(*) filter (where order_type = 'sale' and channel = 'click_and_collect')
            as click_and_collect_orders,
        -- Where the customer bought: a click & collect order is ordered online (picked up in store).
        list_sort(list(distinct case when channel = 'store' then 'store' else 'online' end)
            filter (where order_type = 'sale')) as purchase_channels,
        min(ordered_at) filter (where order_type = 'sale') as first_purchase_at,
        max(ordered_at) filter (where order_type = 'sale') as last_purchase_at
    from orders
    where customer_id is not null
    group by customer_id
),

revenue_totals as (
    -- Net revenue of the customer's sales, by the sale's channel: a return counts against the sale
    -- it returns, whoever brought it back (block revenue_attribution in _core__docs.md).
    select
        revenue_customer_id as customer_id,
        sum(net_amount) as lifetime_revenue,
        sum(net_merchandise_amount_ht) as lifetime_merchandise_revenue_ht,
        coalesce(sum(net_amount) filter (where revenue_channel = 'store'), 0) as store_revenue,
        coalesce(sum(net_amount) filter (where revenue_channel = 'web'), 0) as web_revenue,
        coalesce(sum(net_amount) filter (where revenue_channel = 'click_and_collect'), 0)
            as click_and_collect_revenue
    from revenue
    where revenue_customer_id is not null
    group by revenue_customer_id
),

loyalty as (
    -- Loyalty card and points from the customer's most recently updated CRM contact.
    select customer_ids.customer_id, contacts.loyalty_card, contacts.loyalty_points, contacts.loyalty_tier,
           contacts.preferred_store_code
    from contacts
    inner join customer_ids
        on customer_ids.source_system = 'crm_contacts' and contacts.contact_id = customer_ids.source_record_id
    qualify row_number() over (
        partition by customer_ids.customer_id
        order by contacts.loyalty_card is not null desc, contacts.updated_at desc nulls last, contacts.contact_id
    ) = 1
),

consent_flags as (
    select
        customer_id,
        bool_or(is_granted) filter (where consent_channel = 'email') as consents_to_email,
        bool_or(is_granted) filter (where consent_channel = 'sms') as consents_to_sms,
        bool_or(is_granted) filter (where consent_channel = 'post') as consents_to_post
    from consents
    group by customer_id
),

final as (
    select
        survived.customer_id,
        survived.first_name,
        survived.last_name,
        survived.email,
        survived.phone,
        survived.street,
        survived.postcode,
        survived.city,
        survived.birth_date,
        -- least / greatest skip nulls: a customer without interactions keeps the record dates.
        least(activity.first_interaction_at, survived.first_seen_at) as first_seen_at,
        greatest(activity.last_interaction_at, survived.last_seen_at) as last_seen_at,
        coalesce(activity.interaction_channels, []) as interaction_channels,
        coalesce(len(activity.interaction_channels), 0) as interaction_channel_count,
        coalesce(len(activity.interaction_channels), 0) >= 2 as is_multichannel,
        coalesce(order_totals.purchase_channels, []) as purchase_channels,
        coalesce(len(order_totals.purchase_channels), 0) = 2 as is_omnichannel,
        loyalty.loyalty_card,
        loyalty.loyalty_points,
        loyalty.loyalty_tier,
        loyalty.preferred_store_code,
        consent_flags.consents_to_email,
        consent_flags.consents_to_sms,
        consent_flags.consents_to_post,
        order_totals.first_purchase_at,
        order_totals.last_purchase_at,
        coalesce(order_totals.orders, 0) as orders,
        coalesce(order_totals.store_orders, 0) as store_orders,
        coalesce(order_totals.web_orders, 0) as web_orders,
        coalesce(order_totals.click_and_collect_orders, 0) as click_and_collect_orders,
        coalesce(revenue_totals.lifetime_revenue, 0) as lifetime_revenue,
        coalesce(revenue_totals.lifetime_merchandise_revenue_ht, 0) as lifetime_merchandise_revenue_ht,
        coalesce(revenue_totals.store_revenue, 0) as store_revenue,
        coalesce(revenue_totals.web_revenue, 0) as web_revenue,
        coalesce(revenue_totals.click_and_collect_revenue, 0) as click_and_collect_revenue,
        coalesce(activity.web_sessions, 0) as web_sessions,
        coalesce(activity.service_contacts, 0) as service_contacts,
        coalesce(activity.survey_responses, 0) as survey_responses,
        survived.source_records,
        survived.source_systems
    from survived
    left join activity on survived.customer_id = activity.customer_id
    left join order_totals on survived.customer_id = order_totals.customer_id
    left join revenue_totals on survived.customer_id = revenue_totals.customer_id
    left join loyalty on survived.customer_id = loyalty.customer_id
    left join consent_flags on survived.customer_id = consent_flags.customer_id
)

select * from final
