{#- The headline KPIs of every closed period (not is_partial_period), kept version by version: dbt
    adds a row only when one of check_cols differs from the period's current row, so a build of the
    same data adds nothing, and a build after identity merged or split customers (or a late file)
    adds the period's restated values (definitions in marts/kpi/_kpi__docs.md, block
    kpi_snapshots). dbt_valid_from is the build's clock time (dbt's snapshot time: when the value
    was published); as_of is the data's instant at that build. -#}
{% snapshot kpi_closed_periods %}
{{ config(
    schema='snapshots',
    unique_key='period_start',
    strategy='check',
    check_cols=[
        'multichannel_rate', 'omnichannel_rate', 'retention_rate_12m', 'net_revenue', 'net_revenue_ht',
        'buyers', 'active_customers',
    ],
    hard_deletes='ignore',
) }}

with multichannel as (
    select * from {{ ref('mart_multichannel_customers') }}
),

retention as (
    select * from {{ ref('mart_retention') }}
),

net_revenue as (
    select * from {{ ref('mart_net_revenue') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

net_revenue_by_period as (
    select period_start, sum(net_revenue) as net_revenue, sum(net_revenue_ht) as net_revenue_ht
    from net_revenue
    group by period_start
),

final as (
    select
        multichannel.period_start,
        data_window.as_of,
        multichannel.multichannel_rate,
        multichannel.omnichannel_rate,
        retention.retention_rate_12m,
        coalesce(net_revenue_by_period.net_revenue, 0) as net_revenue,
        coalesce(net_revenue_by_period.net_revenue_ht, 0) as net_revenue_ht,
        multichannel.buyers,
        multichannel.active_customers
    from multichannel
    cross join data_window
    left join retention on multichannel.period_start = retention.period_start
    left join net_revenue_by_period on multichannel.period_start = net_revenue_by_period.period_start
    where not multichannel.is_partial_period
)

select * from final
{% endsnapshot %}
