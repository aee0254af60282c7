with source as (
    select * from {{ source('identity', 'customer_source_records') }}
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
)

select * from renamed
