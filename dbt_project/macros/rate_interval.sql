{#- A share `successes / trials` with its 95 % Wilson score interval and a reliability flag: the
    columns <name>, <name>_ci_low, <name>_ci_high and <name>_is_reliable (at least
    var('min_sample_size') trials). The one place a sample rate's interval is written for
    customer-level rates (satisfaction has its own, satisfaction_measures). Wilson rather than
    the normal approximation: it stays inside [0, 1] and is honest at 0 or 1 successes of a few. -#}
{% macro rate_interval(successes, trials, name) -%}
    {%- set z = 1.96 -%}
    {%- set n = "nullif(" ~ trials ~ ", 0)" -%}
    {%- set p = "(" ~ successes ~ " / " ~ n ~ ")" -%}
    {%- set centre = "((" ~ p ~ " + " ~ z * z / 2 ~ " / " ~ n ~ ") / (1 + " ~ z * z ~ " / " ~ n ~ "))" -%}
    {%- set half = "(" ~ z ~ " * sqrt(" ~ p ~ " * (1 - " ~ p ~ ") / " ~ n ~ " + " ~ z * z / 4 ~ " / pow(" ~ n ~ ", 2)) / (1 + " ~ z * z ~ " / " ~ n ~ "))" -%}
    round({{ p }}, 4) as {{ name }},
    -- greatest / least skip nulls: the bounds are computed only where there are trials.
    case when {{ trials }} > 0 then round(greatest(0, {{ centre }} - {{ half }}), 4) end as {{ name }}_ci_low,
    case when {{ trials }} > 0 then round(least(1, {{ centre }} + {{ half }}), 4) end as {{ name }}_ci_high,
    coalesce({{ trials }}, 0) >= {{ var('min_sample_size') }} as {{ name }}_is_reliable
{%- endmacro %}
