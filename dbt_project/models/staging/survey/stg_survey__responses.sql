with source as (
    select * from {{ source('survey', 'survey_responses') }}
),

latest as (
    select * from source
    {{ latest_delivered('response_id') }}
),

renamed as (
    select
        response_id,
        survey_id,
        touchpoint,
        submitted_at,
        lower(trim(respondent_email)) as respondent_email,
        nps as nps_score,
        csat as csat_score,
        ces as ces_score,
        nullif(trim(verbatim), '') as verbatim,
        order_ref,
        ticket_ref,
        upper(trim(store_code)) as store_code
    from latest
),

at_as_of as (
    -- Answers submitted after as_of are not there yet.
    select * from renamed
    where {{ happened_by_as_of('submitted_at') }}
)

select * from at_as_of
