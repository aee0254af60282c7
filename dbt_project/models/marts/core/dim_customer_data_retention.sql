-- Data retention of every customer (block dim_customer_data_retention in _core__docs.md): when
-- their personal data may be kept until, from their last activity in any system, and whether that
-- date has passed at as_of. `cdp privacy retention` lists those beyond it; with --apply, erases them.
with customers as (
    select * from {{ ref('dim_customers') }}
),

final as (
    select
        customer_id,
        case when first_purchase_at is null then 'prospect' else 'customer' end as retention_rule,
        last_seen_at as last_activity_at,
        case when first_purchase_at is null
            then {{ var('retention_prospect_days') }} else {{ var('retention_customer_days') }}
        end as retention_days,
        last_seen_at + to_days(retention_days) as retained_until,
        coalesce(last_seen_at + to_days(retention_days) < {{ as_of() }}, false) as is_beyond_retention
    from customers
)

select * from final
