-- One row per customer: the attributes audiences are built from (definitions and the RFM method
-- in _activation__docs.md, block customer_segments). Purchases are sales (returns count in the
-- net revenue, not as purchases); "now" is as_of(), never the wall clock.
with customers as (
    select * from {{ ref('dim_customers') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

order_lines as (
    select * from {{ ref('fct_order_lines') }}
),

products as (
    select * from {{ ref('stg_ecommerce__products') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
),

sales as (
    select
        customer_id,
        channel,
        ordered_at,
        -- Days since the customer's previous purchase (null for the first).
        date_diff('day', lag(ordered_at) over (partition by customer_id order by ordered_at), ordered_at)
            as days_since_previous
    from orders
    where order_type = 'sale' and customer_id is not null
),

purchase_rhythm as (
    select
        customer_id,
        count(*) as purchases,
        median(days_since_previous) as median_days_between_purchases
    from sales
    group by customer_id
),

-- The channel of most purchases; a tie goes to the channel of the latest of them.
preferred_channel as (
    select customer_id, channel as preferred_channel
    from sales
    group by customer_id, channel
    qualify row_number() over (partition by customer_id order by count(*) desc, max(ordered_at) desc, channel) = 1
),

-- The product universe of most net spend (lines of sales and returns, signed; a returned line
-- counts for the customer of the sale it returns, as revenue does), else the one the customer
-- declared in the CRM.
spend_by_universe as (
    select
        orders.revenue_customer_id as customer_id,
        products.universe,
        sum(order_lines.line_amount) as net_spend
    from order_lines
    inner join orders on order_lines.order_id = orders.order_id
    inner join products on order_lines.sku = products.sku
    where orders.revenue_customer_id is not null and products.universe is not null
    group by all
),

bought_universe as (
    select customer_id, universe
    from spend_by_universe
    where net_spend > 0
    qualify row_number() over (partition by customer_id order by net_spend desc, universe) = 1
),

declared_universe as (
    select customer_ids.customer_id, contacts.favourite_universe
    from contacts
    inner join customer_ids
        on customer_ids.source_system = 'crm_contacts' and contacts.contact_id = customer_ids.source_record_id
    where contacts.favourite_universe is not null
    qualify row_number() over (partition by customer_ids.customer_id order by contacts.contact_id) = 1
),

buyers as (
    select
        customers.customer_id,
        date_diff('day', customers.last_purchase_at, {{ as_of() }}) as recency_days,
        purchase_rhythm.purchases as frequency,
        customers.lifetime_revenue as monetary
    from customers
    inner join purchase_rhythm using (customer_id)
),

-- Quintile scores among buyers, 5 the best: the customer's percent rank (0 for the lowest value,
-- 1 for the highest; equal values share it) cut into fifths. Recency ranks the most recent highest.
rfm as (
    select
        customer_id,
        recency_days,
        frequency,
        monetary,
        least(5, 1 + floor(5 * percent_rank() over (order by recency_days desc)))::integer as r_score,
        least(5, 1 + floor(5 * percent_rank() over (order by frequency)))::integer as f_score,
        least(5, 1 + floor(5 * percent_rank() over (order by monetary)))::integer as m_score
    from buyers
),

final as (
    select
        customers.customer_id,
        customers.lifecycle_stage,
        rfm.recency_days,
        coalesce(rfm.frequency, 0) as frequency,
        rfm.monetary,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        case
            when rfm.customer_id is null then 'no purchase'
            when rfm.r_score >= 4 and rfm.f_score >= 4 then 'champions'
            when rfm.r_score <= 2 and rfm.f_score >= 3 then 'at risk'
            when rfm.f_score >= 4 then 'loyal'
            when rfm.r_score >= 4 and rfm.frequency = 1 then 'new'
            when rfm.r_score <= 2 then 'hibernating'
            else 'needs attention'
        end as rfm_segment,
        preferred_channel.preferred_channel,
        coalesce(bought_universe.universe, declared_universe.favourite_universe) as favourite_universe,
        case
            when bought_universe.universe is not null then 'purchases'
            when declared_universe.favourite_universe is not null then 'crm'
        end as favourite_universe_source,
        purchase_rhythm.median_days_between_purchases,
        -- Churn risk: a repeat buyer silent for longer than twice (var churn_rhythm_factor) their
        -- own usual gap between purchases. One purchase gives no rhythm: never flagged.
        coalesce(
            purchase_rhythm.purchases >= 2
            and rfm.recency_days > {{ var('churn_rhythm_factor') }} * purchase_rhythm.median_days_between_purchases,
            false
        ) as is_churn_risk
    from customers
    left join rfm using (customer_id)
    left join purchase_rhythm using (customer_id)
    left join preferred_channel using (customer_id)
    left join bought_universe using (customer_id)
    left join declared_universe using (customer_id)
)

select * from final
