-- The customer 360: one row per customer_id, the golden record plus activity across channels.
-- The columns that depend on "now" (as_of) are added here to int_customer_profiles, which a build
-- recomputes only for the customers whose inputs changed: as_of moves with every day of data, so
-- the lifecycle stage of a customer whose data did not change may still change.
with profiles as (
    select * from {{ ref('int_customer_profiles') }}
),

final as (
    select
        customer_id,
        first_name,
        last_name,
        email,
        phone,
        street,
        postcode,
        city,
        birth_date,
        first_seen_at,
        last_seen_at,
        interaction_channels,
        interaction_channel_count,
        is_multichannel,
        purchase_channels,
        is_omnichannel,
        loyalty_card,
        loyalty_points,
        loyalty_tier,
        preferred_store_code,
        consents_to_email,
        consents_to_sms,
        consents_to_post,
        first_purchase_at,
        last_purchase_at,
        {{ lifecycle_stage('first_purchase_at', 'last_purchase_at', as_of()) }} as lifecycle_stage,
        orders,
        store_orders,
        web_orders,
        click_and_collect_orders,
        lifetime_revenue,
        lifetime_merchandise_revenue_ht,
        store_revenue,
        web_revenue,
        click_and_collect_revenue,
        web_sessions,
        service_contacts,
        survey_responses,
        source_records,
        source_systems
    from profiles
)

select * from final
