{#- var identity_variant (stricter, looser, ...): a build of the identity KPI range, where the same
    records carry the customer ids another match threshold gives (docs/kpis.md, "Identity range"). -#}
{%- set variant = var('identity_variant', none) -%}
with source as (
    {%- if variant %}
    select * exclude (variant) from {{ source('identity_range', 'customer_source_records') }}
    where variant = '{{ variant }}'
    {%- else %}
    select * from {{ source('identity', 'customer_source_records') }}
    {%- endif %}
),

renamed as (
    select
        unique_id as source_record_key,
        customer_id,
        source_system,
        source_record_id,
        match_method,
        match_confidence,
        in_flagged_cluster,
        seen_at
    from source
),

at_as_of as (
    -- A record first seen after as_of is not there yet: a customer all of whose records are
    -- later does not exist at as_of.
    select * from renamed
    where {{ happened_by_as_of('seen_at') }}
)

select * from at_as_of
