-- One row per customer: the attributes audiences are built from (definitions and the RFM method
-- in _activation__docs.md, block customer_segments). Purchases are sales (returns count in the
-- net revenue, not as purchases); "now" is as_of(), never the wall clock.
with customers as (
    select * from {{ ref('dim_customers') }}
),

-- Purchase rhythm, preferred channel and universes: recomputed for the customers whose data
-- changed (int_customer_purchase_features); recency and the quintiles below move with as_of.
features as (
    select * from {{ ref('int_customer_purchase_features') }}
),

buyers as (
    select
        customers.customer_id,
        date_diff('day', customers.last_purchase_at, {{ as_of() }}) as recency_days,
        features.purchases as frequency,
        customers.lifetime_revenue as monetary
    from customers
    inner join features using (customer_id)
    where features.purchases is not null
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
        features.preferred_channel,
        coalesce(features.bought_universe, features.declared_universe) as favourite_universe,
        case
            when features.bought_universe is not null then 'purchases'
            when features.declared_universe is not null then 'crm'
        end as favourite_universe_source,
        features.median_days_between_purchases,
        -- Churn risk: a repeat buyer silent for longer than twice (var churn_rhythm_factor) their
        -- own usual gap between purchases. One purchase gives no rhythm: never flagged.
        coalesce(
            features.purchases >= 2
            and rfm.recency_days > {{ var('churn_rhythm_factor') }} * features.median_days_between_purchases,
            false
        ) as is_churn_risk
    from customers
    left join rfm using (customer_id)
    left join features using (customer_id)
)

select * from final
