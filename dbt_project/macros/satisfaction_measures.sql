{#- NPS, CSAT and CES over the rows of a group of survey responses (fct_survey_responses), each with
    its answer count and a 95 % interval: the one place these formulas are written (definitions in
    _kpi__docs.md, block satisfaction).

    - NPS: adjusted Wald interval (0.75 added to promoters and to detractors, 3 to the answers,
      then the normal approximation on the difference of two shares: Rocks 2016, as Sauro
      recommends for NPS), clipped to [-100, 100];
    - CSAT: Wilson score interval of the share satisfied (4-5 on 1-5), in % (macros wilson_centre,
      wilson_half);
    - CES: mean ± 1.96 standard errors (sample standard deviation), clipped to [1, 7]; none on a
      single answer;
    - detractor, promoter and easy-effort shares: Wilson intervals and <share>_is_reliable
      (macro rate_interval, at least var('min_sample_size') answers);
    - is_reliable: every measure that has answers has at least var('min_responses') of them. -#}
{% macro satisfaction_measures() -%}
    {%- set z = 1.96 -%}
    {%- set n_nps = "count(nps_score)" -%}
    {%- set promoters = "count(*) filter (where nps_score >= 9)" -%}
    {%- set detractors = "count(*) filter (where nps_score <= 6)" -%}
    {%- set p_adj = "((" ~ promoters ~ " + 0.75) / (" ~ n_nps ~ " + 3))" -%}
    {%- set d_adj = "((" ~ detractors ~ " + 0.75) / (" ~ n_nps ~ " + 3))" -%}
    {%- set nps_se = "sqrt((" ~ p_adj ~ " + " ~ d_adj ~ " - pow(" ~ p_adj ~ " - " ~ d_adj ~ ", 2)) / (" ~ n_nps ~ " + 3))" -%}
    {%- set n_csat = "nullif(count(csat_score), 0)" -%}
    {%- set satisfied = "(count(*) filter (where csat_score >= 4) / " ~ n_csat ~ ")" -%}
    {%- set ces_half = "(" ~ z ~ " * stddev_samp(ces_score) / sqrt(count(ces_score)))" -%}
    count(*) as responses,
    {{ n_nps }} as nps_responses,
    {{ promoters }} as promoters,
    {{ detractors }} as detractors,
    round(100.0 * ({{ promoters }} - {{ detractors }}) / nullif({{ n_nps }}, 0), 1) as nps,
    case when {{ n_nps }} > 0 then
        round(greatest(-100, 100 * ({{ p_adj }} - {{ d_adj }} - {{ z }} * {{ nps_se }})), 1) end as nps_ci_low,
    case when {{ n_nps }} > 0 then
        round(least(100, 100 * ({{ p_adj }} - {{ d_adj }} + {{ z }} * {{ nps_se }})), 1) end as nps_ci_high,
    {{ rate_interval(detractors, n_nps, 'detractor_share') }},
    {{ rate_interval(promoters, n_nps, 'promoter_share') }},
    count(csat_score) as csat_responses,
    round(100.0 * {{ satisfied }}, 1) as csat,
    -- greatest / least skip nulls: each bound is computed only where there are answers.
    case when count(csat_score) > 0 then
        round(100.0 * greatest(0, {{ wilson_centre(satisfied, n_csat) }} - {{ wilson_half(satisfied, n_csat) }}), 1) end as csat_ci_low,
    case when count(csat_score) > 0 then
        round(100.0 * least(1, {{ wilson_centre(satisfied, n_csat) }} + {{ wilson_half(satisfied, n_csat) }}), 1) end as csat_ci_high,
    count(ces_score) as ces_responses,
    round(avg(ces_score), 2) as ces_mean,
    case when count(ces_score) > 1 then round(greatest(1, avg(ces_score) - {{ ces_half }}), 2) end
        as ces_mean_ci_low,
    case when count(ces_score) > 1 then round(least(7, avg(ces_score) + {{ ces_half }}), 2) end
        as ces_mean_ci_high,
    {{ rate_interval('count(*) filter (where ces_score >= 5)', 'count(ces_score)', 'ces_easy_share') }},
    ({{ n_nps }} = 0 or {{ n_nps }} >= {{ var('min_responses') }})
        and (count(csat_score) = 0 or count(csat_score) >= {{ var('min_responses') }})
        and (count(ces_score) = 0 or count(ces_score) >= {{ var('min_responses') }})
        and count(*) >= {{ var('min_responses') }} as is_reliable
{%- endmacro %}
