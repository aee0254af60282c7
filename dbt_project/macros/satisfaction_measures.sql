{#- NPS, CSAT and CES over the rows of a group of survey responses (fct_survey_responses): the one
    place these formulas are written (definitions in _kpi__docs.md, block satisfaction). -#}
{% macro satisfaction_measures() -%}
    count(*) as responses,
    count(nps_score) as nps_responses,
    count(*) filter (where nps_score >= 9) as promoters,
    count(*) filter (where nps_score <= 6) as detractors,
    round(100.0 * (count(*) filter (where nps_score >= 9) - count(*) filter (where nps_score <= 6))
          / nullif(count(nps_score), 0), 1) as nps,
    round(count(*) filter (where nps_score <= 6) / nullif(count(nps_score), 0), 4) as detractor_share,
    round(count(*) filter (where nps_score >= 9) / nullif(count(nps_score), 0), 4) as promoter_share,
    count(csat_score) as csat_responses,
    round(100.0 * count(*) filter (where csat_score >= 4) / nullif(count(csat_score), 0), 1) as csat,
    count(ces_score) as ces_responses,
    round(avg(ces_score), 2) as ces_mean,
    round(100.0 * count(*) filter (where ces_score >= 5) / nullif(count(ces_score), 0), 1) as ces_easy_share
{%- endmacro %}
