with stores as (
    select * from {{ ref('stg_pos__stores') }}
)

select store_code, store_name, street, postcode, city, opened_on
from stores
