{#- The large staging models (web events, till tickets and lines, web orders and lines) are
    incremental tables, not views: as views, every reader paid the window of `latest_delivered`
    over all of raw again (a day's incremental model reading 10 new events through the view cost
    a window over the whole history). docs/dbt.md, "Incremental models". -#}

{#- Their config: delete+insert on `unique_key` (the staging key), rebuilt in full while var
    as_of is set (full_refresh_at_as_of). Used as `{{ config(**incremental_staging(key)) }}`. -#}
{% macro incremental_staging(unique_key) -%}
    {{ return({
        'materialized': 'incremental',
        'unique_key': unique_key,
        'full_refresh': full_refresh_at_as_of(),
    }) }}
{%- endmacro %}

{#- The filter on raw `relation` of an incremental build: every version of each record (`key`,
    raw columns) with a version loaded since the last build, so that `latest_delivered` compares
    them all and the latest still wins; the model's delete+insert then replaces that record.
    The model calls it under `{% if is_incremental() %}` itself: dbt then asks its unit tests to
    say which build they test. -#}
{% macro delivered_since_last_build(relation, key) -%}
    where ({{ key }}) in (
        select {{ key }} from {{ relation }} where _loaded_at > {{ last_loaded_at() }}
    )
{%- endmacro %}
