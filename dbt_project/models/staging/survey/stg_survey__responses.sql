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
)

select * from renamed
