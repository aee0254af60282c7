-- One row per customer: what the segments read of their purchases that does not depend on "now"
-- (mart_customer_segments adds recency and the RFM quintiles, which move with as_of and with the
-- other buyers). Purchases are sales; returns count in the net spend, not as purchases.
-- Customer-grain incremental (docs/dbt.md): a build recomputes the customers whose inputs changed.
-- depends_on: {{ ref('int_customer_changes') }}
{{ config(**customer_grain_config()) }}

with customers as (
    select customer_id from {{ ref('int_customer_profiles') }}
    where {{ only_affected_customers() }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where {{ only_affected_customers() }}
),

revenue as (
    select order_id, revenue_customer_id from {{ ref('int_order_revenue_attributed') }}
    where {{ only_affected_customers('revenue_customer_id') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_unioned') }}
),

products as (
    select * from {{ ref('stg_ecommerce__products') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

customer_ids as (
    select * from {{ ref('int_customer_ids_by_source_record') }}
    where {{ only_affected_customers() }}
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
        revenue.revenue_customer_id as customer_id,
        products.universe,
        sum(order_lines.line_amount) as net_spend
    from order_lines
    inner join revenue on order_lines.order_id = revenue.order_id
    inner join products on order_lines.sku = products.sku
    where products.universe is not null
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

final as (
    select
        customers.customer_id,
        purchase_rhythm.purchases,
        purchase_rhythm.median_days_between_purchases,
        preferred_channel.preferred_channel,
        bought_universe.universe as bought_universe,
        declared_universe.favourite_universe as declared_universe
    from customers
    left join purchase_rhythm using (customer_id)
    left join preferred_channel using (customer_id)
    left join bought_universe using (customer_id)
    left join declared_universe using (customer_id)
)

select * from final
