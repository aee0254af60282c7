{{ config(**incremental_staging('event_id')) }}
with source as (
    select * from {{ source('ecommerce', 'ecommerce_web_events') }}
    {% if is_incremental() -%}
    {{ delivered_since_last_build(source('ecommerce', 'ecommerce_web_events'), 'event_id') }}
    {%- endif %}
),

latest as (
    select * from source
    {{ latest_delivered('event_id') }}
),

renamed as (
    select
        event_id,
        event_type,
        event_at,
        visitor_id,
        session_id,
        customer_id as account_id,
        order_id,
        sku,
        page_url,
        device,
        utm_source,
        _loaded_at as loaded_at
    from latest
),

at_as_of as (
    -- Events after as_of are not there yet (a session running at as_of has its events so far).
    select * from renamed
    where {{ happened_by_as_of('event_at') }}
)

select * from at_as_of
