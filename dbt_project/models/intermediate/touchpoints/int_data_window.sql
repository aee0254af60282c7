-- The data's time window, one row: when its history starts and the instant every model treats as
-- "now" (definitions in _touchpoints__docs.md, block data_window). Models read it through the
-- macros as_of() and history_start(), never from the wall clock: rerunning the same data on
-- another day builds the same marts.
with events as (
    select occurred_at from {{ ref('int_touchpoints_unioned') }}
),

final as (
    select
        min(occurred_at) as history_start_at,
        {% if var('as_of', none) -%}
        {{ as_of_var() }} as as_of,
        'var as_of' as as_of_source
        {%- else -%}
        max(occurred_at) as as_of,
        'latest event in the data' as as_of_source
        {%- endif %}
    from events
)

select * from final
