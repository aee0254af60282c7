{#- Customer-grain incremental models (docs/dbt.md, "Customer-grain models"): a build recomputes
    the customers whose inputs changed since the model was last built, and only them.

    int_customer_changes holds, per customer id ever seen, a fingerprint of everything those models
    read about the customer and the build that last saw it change (changed_at). Each model keeps,
    in the table below, the changes it has applied (the newest changed_at it has read); a model
    whose build failed applies them at its next build, so nothing depends on every build
    succeeding. -#}

{#- Its own schema, which no model builds into: the pipeline drops from the models' schemas any
    table no model builds (orchestration/lib/dbt_project.py, drop_orphaned_models). -#}
{% macro customer_changes_applied_relation() -%}
    dbt_state.customer_changes_applied
{%- endmacro %}

{#- SQL: the ids (current, gone, merged away) of the customers whose inputs changed since this
    model last applied the changes. Every customer while the model has never recorded any. -#}
{% macro affected_customers() -%}
    select customer_id from {{ ref('int_customer_changes') }}
    where changed_at > (
        select coalesce(max(applied_through), '-infinity'::timestamptz)
        from {{ customer_changes_applied_relation() }}
        where model_name = '{{ this.name }}'
    )
{%- endmacro %}

{#- Model config of a customer-grain incremental model: append the affected customers' rows after a
    pre-hook removed their previous ones (a customer now without rows, merged away or gone, keeps
    none), then record the changes applied. Rebuilt in full while var as_of is set, like the facts. -#}
{% macro customer_grain_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'full_refresh': full_refresh_at_as_of(),
        'pre_hook': ["{{ delete_affected_customers() }}"],
        'post_hook': ["{{ record_customer_changes_applied() }}"],
        'meta': {'test_scope': 'changed_customers'},
    }) }}
{%- endmacro %}

{#- on-run-start (dbt_project.yml): once per invocation, before models run in parallel (two
    models creating it at once would conflict). -#}
{% macro create_customer_changes_applied() -%}
    create schema if not exists dbt_state;
    create table if not exists {{ customer_changes_applied_relation() }} (
        model_name varchar primary key,
        applied_through timestamptz not null
    )
{%- endmacro %}

{% macro delete_affected_customers() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where customer_id in ({{ affected_customers() }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- A build of the identity KPI range (var identity_variant) is a full build into other schemas:
    it records nothing, or the warehouse's own models would take its changes as applied. -#}
{% macro record_customer_changes_applied() -%}
    {%- if var('identity_variant', none) -%}
    select 1
    {%- else -%}
    insert or replace into {{ customer_changes_applied_relation() }}
    select '{{ this.name }}', coalesce(max(changed_at), '-infinity'::timestamptz)
    from {{ ref('int_customer_changes') }}
    {%- endif -%}
{%- endmacro %}

{#- In a model's select: keep the rows of affected customers only (an incremental build). -#}
{% macro only_affected_customers(column='customer_id') -%}
    {%- if is_incremental() -%}
        {{ column }} in ({{ affected_customers() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Data tests of customer-grain models test the rows of the customers whose inputs changed in
    the latest build: the only rows that build wrote (the others passed the same tests when they
    were written). Every test of a model with meta test_scope: changed_customers (those configured
    by customer_grain_config(), and the incremental facts downstream of int_customer_changes, whose
    rewritten rows are all of a changed customer or of none) is scoped so, on top of its own
    `where`; dbt's generic tests, and this project's, read the tested model through this macro. `--vars '{test_scope: all}'`
    (`cdp check --all`, and the weekly full check) tests every row. -#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- if tested and tested.config.meta.get('test_scope') == 'changed_customers'
          and var('test_scope', 'changed') != 'all' -%}
        {#- Named, not ref()'d: a test depends on the model it tests only. -#}
        {%- set node = graph.nodes['model.cdp.int_customer_changes'] -%}
        {%- set changes = api.Relation.create(node.database, node.schema, node.alias) -%}
        {#- Anonymous rows (facts of no known customer) are not scoped: no customer says they changed. -#}
        {%- do conditions.append('(customer_id is null or customer_id in (select customer_id from ' ~ changes
            ~ ' where changed_at = (select max(changed_at) from ' ~ changes ~ ')))') -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
