-- Survey verbatims sorted into themes, with a sentiment per theme: one row per response and
-- theme it mentions (definitions in _kpi__docs.md, block verbatim_themes).
-- Text is normalised (lower case, no accents, punctuation → spaces), cut into sentences, and
-- each sentence into its 1- to 3-word terms, which are matched by equality against the
-- dictionaries (seeds verbatim_theme_terms and verbatim_sentiment_terms): a hash join, not a
-- regular expression per dictionary row, so it stays fast at millions of answers.
with responses as (
    select response_id, verbatim
    from {{ ref('int_survey_responses_joined') }}
    where verbatim is not null
),

theme_terms as (
    select * from {{ ref('verbatim_theme_terms') }}
),

sentiment_terms as (
    select * from {{ ref('verbatim_sentiment_terms') }}
),

split as (
    select
        response_id,
        regexp_split_to_array(strip_accents(lower(replace(verbatim, '’', ''''))), '[.!?;…\n]+') as sentences
    from responses
),

tokenised as (
    select
        response_id,
        generate_subscripts(sentences, 1) as sentence_number,
        list_filter(regexp_split_to_array(unnest(sentences), '[\s\p{P}]+'), lambda token: token <> '') as tokens
    from split
),

terms as (
    select
        response_id,
        sentence_number,
        unnest(
            tokens
            || list_transform(range(1, len(tokens)), lambda i: tokens[i] || ' ' || tokens[i + 1])
            || list_transform(
                range(1, len(tokens) - 1), lambda i: tokens[i] || ' ' || tokens[i + 1] || ' ' || tokens[i + 2]
            )
        ) as term
    from tokenised
),

sentence_scores as (
    select terms.response_id, terms.sentence_number, sum(sentiment_terms.polarity) as sentiment_score
    from terms
    inner join sentiment_terms on terms.term = sentiment_terms.term
    group by all
),

response_scores as (
    select response_id, sum(sentiment_score) as sentiment_score
    from sentence_scores
    group by all
),

sentence_themes as (
    select distinct terms.response_id, terms.sentence_number, theme_terms.theme
    from terms
    inner join theme_terms on terms.term = theme_terms.term
),

by_theme as (
    select
        sentence_themes.response_id,
        sentence_themes.theme,
        count(*) as sentences,
        coalesce(sum(sentence_scores.sentiment_score), 0) as theme_sentence_score,
        coalesce(any_value(response_scores.sentiment_score), 0) as response_score
    from sentence_themes
    left join sentence_scores
        on sentence_themes.response_id = sentence_scores.response_id
        and sentence_themes.sentence_number = sentence_scores.sentence_number
    left join response_scores on sentence_themes.response_id = response_scores.response_id
    group by all
),

final as (
    select
        response_id,
        theme,
        sentences,
        -- The theme's own sentences decide; when they carry no sentiment word, the whole answer does.
        case when theme_sentence_score <> 0 then theme_sentence_score else response_score end as sentiment_score
    from by_theme
)

select
    response_id,
    theme,
    sentences,
    sentiment_score,
    case when sentiment_score > 0 then 'positive' when sentiment_score < 0 then 'negative' else 'neutral' end
        as sentiment
from final
