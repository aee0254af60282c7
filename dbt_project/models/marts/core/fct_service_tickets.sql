with tickets as (
    select * from {{ ref('int_service_tickets_sequenced') }}
)

select * from tickets
