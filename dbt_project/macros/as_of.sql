{#- The instant models treat as "now" (int_data_window.as_of: var as_of, else the latest event in
    the data), as a scalar subquery: the one place "now" is defined. -#}
{% macro as_of() -%}
    (select as_of from {{ ref('int_data_window') }})
{%- endmacro %}

{#- When the loaded history starts (int_data_window.history_start_at), as a scalar subquery. -#}
{% macro history_start() -%}
    (select history_start_at from {{ ref('int_data_window') }})
{%- endmacro %}

{#- The point-in-time cut (docs/kpis.md, "One "now" for every mart"). When var as_of is set,
    staging shows every source as an export taken at that instant would: a record dated after it
    is not there yet, and a state it reached after it (solved, ready, collected, refunded) is not
    reached yet. Staging applies these macros and nothing downstream has to: the marts only see
    the past. Without the var they compile to `true` and to the column itself, so a build is the
    same as before; as_of is then the latest event, after which nothing happened.

    The var is read here, as a literal, and not through int_data_window: that model is computed
    from staging (the latest event), so staging cannot read it. -#}

{#- var as_of as a timestamptz literal; none when the var is not set. -#}
{% macro as_of_var() -%}
    {%- if var('as_of', none) -%}
        '{{ var("as_of") }}'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#- Whether what `timestamp` dates had happened at as_of: the filter that keeps a source's rows
    dated at or before it (an instant equal to as_of has happened). -#}
{% macro happened_by_as_of(timestamp) -%}
    {%- if as_of_var() -%}
        ({{ timestamp }} <= {{ as_of_var() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- `timestamp` if the state it dates had been reached at as_of, else null: a ticket solved later
    is unsolved at as_of, an order collected later is not collected yet. -#}
{% macro reached_by_as_of(timestamp) -%}
    {%- if as_of_var() -%}
        case when {{ timestamp }} <= {{ as_of_var() }} then {{ timestamp }} end
    {%- else -%}
        {{ timestamp }}
    {%- endif -%}
{%- endmacro %}

{#- Whether `timestamp` is a state reached after as_of (so undone by the cut): false without the
    var, and false for a state never reached (null). -#}
{% macro reached_after_as_of(timestamp) -%}
    {%- if as_of_var() -%}
        coalesce({{ timestamp }} > {{ as_of_var() }}, false)
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{#- Config of the incremental models: rebuild in full while var as_of is set. An incremental
    build only adds and rewrites rows; the rows a cut removes (dated after as_of) would stay.
    none (not false) otherwise, so that `--full-refresh` still decides. -#}
{% macro full_refresh_at_as_of() -%}
    {{ return(true if var('as_of', none) else none) }}
{%- endmacro %}

{#- When a web order's refund is taken to happen: the web shop exports a refunded amount but no
    refund date, so its last dated step (collected, else ready for pickup, else ordered). An
    uncollected click & collect order is cancelled after it was ready; a delivered order's refund
    counts from its order's date (no delivery date either). `ordered_at`: the column of the order
    date (`created_at` in raw). -#}
{% macro web_refund_at(ordered_at='ordered_at') -%}
    coalesce(collected_at, ready_for_pickup_at, {{ ordered_at }})
{%- endmacro %}
