{#- The 95 % Wilson score interval of a share `p` of `n` trials (SQL expressions), unclipped:
    centre ± half. The one place the formula is written, for rate_interval and the CSAT of
    satisfaction_measures. Wilson rather than the normal approximation: clipped to [0, 1] it is
    honest at 0 or 1 successes of a few. -#}
{% macro wilson_centre(p, n) -%}
    {%- set z = 1.96 -%}
    (({{ p }} + {{ z * z / 2 }} / {{ n }}) / (1 + {{ z * z }} / {{ n }}))
{%- endmacro %}

{% macro wilson_half(p, n) -%}
    {%- set z = 1.96 -%}
    ({{ z }} * sqrt({{ p }} * (1 - {{ p }}) / {{ n }} + {{ z * z / 4 }} / pow({{ n }}, 2)) / (1 + {{ z * z }} / {{ n }}))
{%- endmacro %}

{#- A share `successes / trials` with its 95 % Wilson score interval and a reliability flag: the
    columns <name>, <name>_ci_low, <name>_ci_high and <name>_is_reliable (at least
    var('min_sample_size') trials). -#}
{% macro rate_interval(successes, trials, name) -%}
    {%- set n = "nullif(" ~ trials ~ ", 0)" -%}
    {%- set p = "(" ~ successes ~ " / " ~ n ~ ")" -%}
    round({{ p }}, 4) as {{ name }},
    -- greatest / least skip nulls: the bounds are computed only where there are trials.
    case when {{ trials }} > 0 then round(greatest(0, {{ wilson_centre(p, n) }} - {{ wilson_half(p, n) }}), 4) end
        as {{ name }}_ci_low,
    case when {{ trials }} > 0 then round(least(1, {{ wilson_centre(p, n) }} + {{ wilson_half(p, n) }}), 4) end
        as {{ name }}_ci_high,
    coalesce({{ trials }}, 0) >= {{ var('min_sample_size') }} as {{ name }}_is_reliable
{%- endmacro %}
