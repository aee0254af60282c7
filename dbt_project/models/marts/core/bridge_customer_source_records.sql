-- The bridge between customers and the source records they were resolved from.
with customer_records as (
    select * from {{ ref('stg_identity__customer_source_records') }}
)

select
    source_record_key,
    customer_id,
    source_system,
    source_record_id,
    match_method,
    match_confidence,
    in_flagged_cluster,
    seen_at
from customer_records
