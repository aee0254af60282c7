{#- Verbatim themes at one grain: per theme and per each of the columns `by` (period_start,
    touchpoint, both or none), the mentions, their sentiment and the mean scores of the answers
    that mention the theme, and the share of the answers with a verbatim at the same grain with its
    95 % Wilson interval (survey answers are a sample of customers; definitions in _kpi__docs.md, block verbatim_themes). Each mart_verbatim_themes* model calls
    it once: every grain is counted from the answers, in a table of its own. -#}
{% macro verbatim_themes_by(by) -%}
{%- set keys = by | join(', ') ~ (', ' if by else '') -%}
with responses as (
    select *, {{ kpi_period('submitted_at') }} as period_start
    from {{ ref('fct_survey_responses') }}
),

themes as (
    select * from {{ ref('verbatim_themes') }}
),

mentions as (
    select responses.*, mentions.theme, mentions.sentiment
    from {{ ref('int_survey_verbatim_themes') }} as mentions
    inner join responses on mentions.response_id = responses.response_id
),

verbatims as (
    select {{ keys }}count(*) as verbatims
    from responses
    where verbatim is not null
    {% if by %}group by {{ by | join(', ') }}{% endif %}
),

measured as (
    select
        {{ keys }}theme,
        count(*) as mentions,
        count(*) filter (where sentiment = 'positive') as positive_mentions,
        count(*) filter (where sentiment = 'negative') as negative_mentions,
        count(*) filter (where sentiment = 'neutral') as neutral_mentions,
        round(
            (count(*) filter (where sentiment = 'positive') - count(*) filter (where sentiment = 'negative'))
            / count(*), 4
        ) as net_sentiment,
        round(avg(nps_score), 2) as mean_nps_score,
        round(avg(csat_score), 2) as mean_csat_score
    from mentions
    group by {{ keys }}theme
),

final as (
    select
        {% for column in by %}measured.{{ column }},
        {% endfor -%}
        measured.theme,
        themes.label_fr as theme_label_fr,
        measured.mentions,
        {{ rate_interval('measured.mentions', 'verbatims.verbatims', 'share_of_verbatims') }},
        measured.positive_mentions,
        measured.negative_mentions,
        measured.neutral_mentions,
        measured.net_sentiment,
        measured.mean_nps_score,
        measured.mean_csat_score
    from measured
    inner join themes on measured.theme = themes.theme
    inner join verbatims on true
        {%- for column in by %} and measured.{{ column }} = verbatims.{{ column }}{% endfor %}
)

select
    final.*{% if 'period_start' in by %},
    {{ is_partial_period('final.period_start') }} as is_partial_period{% endif %}
from final
{%- endmacro %}
