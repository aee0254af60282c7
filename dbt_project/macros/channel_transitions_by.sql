{#- The channel transition matrix, over all periods (`by` empty) or per period (`by` =
    ['period_start']): how customers move from one step of their journey to the next (a web
    session with the order it placed is one step: int_customer_journey_steps), and how satisfied
    they are after each move (definitions in _kpi__docs.md, block journeys). Distinct customers, medians and
    scores do not add up across periods, so each grain is counted from the steps, in a table of
    its own. -#}
{% macro channel_transitions_by(by) -%}
{%- set keys = by | join(', ') ~ (', ' if by else '') -%}
with steps as (
    select * from {{ ref('int_customer_journey_steps') }}
),

transitions as (
    select *, {{ kpi_period('started_at') }} as period_start
    from steps
    where previous_channel is not null
),

-- A survey rates one touchpoint (a purchase, a pickup, a ticket): the transition to its step.
rated as (
    select
        transitions.period_start,
        transitions.previous_channel as from_channel,
        transitions.channel as to_channel,
        surveys.nps_score,
        surveys.csat_score,
        surveys.ces_score
    from {{ ref('fct_survey_responses') }} as surveys
    inner join transitions
        on transitions.rated_touchpoint_id = case surveys.touchpoint
            when 'click_and_collect_pickup' then 'pickup:' || surveys.order_ref
            when 'service_contact' then 'ticket:' || surveys.ticket_ref
            else 'sale:' || surveys.order_ref
        end
),

satisfaction as (
    select
        {{ keys }}from_channel,
        to_channel,
        {{ satisfaction_measures() }}
    from rated
    group by {{ keys }}from_channel, to_channel
),

counted as (
    select
        {{ keys }}previous_channel as from_channel,
        channel as to_channel,
        count(*) as transitions,
        count(distinct customer_id) as customers,
        round(median(date_diff('minute', previous_started_at, started_at)) / 60.0, 1) as median_hours_between
    from transitions
    group by {{ keys }}previous_channel, channel
),

final as (
    select
        {% for column in by %}counted.{{ column }},
        {% endfor -%}
        {% if 'period_start' in by -%}
        {{ is_partial_period('counted.period_start') }} as is_partial_period,
        {% endif -%}
        counted.from_channel,
        counted.to_channel,
        counted.from_channel <> counted.to_channel as is_channel_switch,
        counted.transitions,
        round(counted.transitions / sum(counted.transitions) over (
            partition by {% for column in by %}counted.{{ column }}, {% endfor %}counted.from_channel
        ), 4) as share_of_from_channel,
        counted.customers,
        counted.median_hours_between,
        coalesce(satisfaction.responses, 0) as survey_responses_after,
        satisfaction.nps as nps_after,
        satisfaction.nps_ci_low as nps_after_ci_low,
        satisfaction.nps_ci_high as nps_after_ci_high,
        satisfaction.csat as csat_after,
        satisfaction.csat_ci_low as csat_after_ci_low,
        satisfaction.csat_ci_high as csat_after_ci_high,
        satisfaction.ces_mean as ces_mean_after,
        satisfaction.ces_mean_ci_low as ces_mean_after_ci_low,
        satisfaction.ces_mean_ci_high as ces_mean_after_ci_high,
        coalesce(satisfaction.is_reliable, false) as satisfaction_after_is_reliable
    from counted
    left join satisfaction
        on counted.from_channel = satisfaction.from_channel
        and counted.to_channel = satisfaction.to_channel
        {%- for column in by %}
        and counted.{{ column }} = satisfaction.{{ column }}
        {%- endfor %}
)

select * from final
{%- endmacro %}
