with responses as (
    select * from {{ ref('int_survey_responses_joined') }}
)

select * from responses
