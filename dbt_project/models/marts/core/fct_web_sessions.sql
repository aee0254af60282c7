-- Incremental (docs/dbt.md, "Incremental models"): a build writes only the rows that differ from
-- what the model holds: new, delivered again, or of another customer.
-- Its tests read the rows of the customers changed in the build and the anonymous rows
-- (docs/dbt.md, "Tests of a day"); depends_on: {{ ref('int_customer_changes') }}
{{ config(
    materialized='incremental',
    unique_key='session_id',
    full_refresh=full_refresh_at_as_of(),
    meta={'test_scope': 'changed_customers'},
) }}

with sessions as (
    select * from {{ ref('int_web_sessions_aggregated') }}
),

final as (
    select
        session_id,
        visitor_id,
        customer_id,
        started_at,
        ended_at,
        events,
        product_views,
        add_to_cart_events,
        has_login,
        has_checkout_started,
        has_checkout_completed,
        is_cart_abandoned,
        order_id,
        device,
        utm_source
    from sessions
)

select * from final
{% if is_incremental() %}
except
select * from {{ this }}
{% endif %}
