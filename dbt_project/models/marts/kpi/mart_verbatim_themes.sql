-- What customers write about: survey verbatims by theme, with sentiment and the scores of the
-- answers that mention the theme, per touchpoint surveyed and for all (definitions in
-- _kpi__docs.md, block verbatim_themes). period_start is null on the rows over all periods.
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
    select period_start, coalesce(touchpoint, 'all') as touchpoint, count(*) as verbatims
    from responses
    where verbatim is not null
    group by grouping sets ((period_start, touchpoint), (period_start), (touchpoint), ())
),

measured as (
    select
        period_start,
        coalesce(touchpoint, 'all') as touchpoint,
        theme,
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
    group by grouping sets ((period_start, touchpoint, theme), (period_start, theme), (touchpoint, theme), (theme))
),

final as (
    select
        measured.period_start,
        measured.touchpoint,
        measured.theme,
        themes.label_fr as theme_label_fr,
        measured.mentions,
        round(measured.mentions / verbatims.verbatims, 4) as share_of_verbatims,
        measured.positive_mentions,
        measured.negative_mentions,
        measured.neutral_mentions,
        measured.net_sentiment,
        measured.mean_nps_score,
        measured.mean_csat_score
    from measured
    inner join themes on measured.theme = themes.theme
    inner join verbatims
        on measured.period_start is not distinct from verbatims.period_start
        and measured.touchpoint = verbatims.touchpoint
)

select * from final
