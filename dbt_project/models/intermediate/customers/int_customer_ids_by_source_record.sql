-- Which customer each source record belongs to, keyed the way facts look it up
-- (source system + the source's own id). Records that carried no identity are absent.
with customer_records as (
    select * from {{ ref('stg_identity__customer_source_records') }}
)

select source_system, source_record_id, customer_id, match_method, match_confidence
from customer_records
