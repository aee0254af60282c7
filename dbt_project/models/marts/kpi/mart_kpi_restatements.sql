-- How much each headline KPI of a closed period moved since it was first published: the first
-- version of the snapshot kpi_closed_periods against the current one, per period and KPI
-- (definitions in _kpi__docs.md, block kpi_snapshots). Identity merging or splitting customers,
-- or a file delivered late, restates a closed month; this says by how much.
with versions as (
    select * from {{ ref('kpi_closed_periods') }}
),

numeric as (
    -- Every KPI column of the snapshot (whatever it holds) in one numeric type.
    select
        period_start,
        as_of,
        dbt_valid_from,
        columns(* exclude (period_start, as_of, dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to))
            ::decimal(18, 4)
    from versions
),

long as (
    -- One row per version, period and KPI, nulls kept (retention has none before two years of
    -- history).
    select *
    from numeric
    unpivot include nulls (kpi_value for kpi in (columns(* exclude (period_start, as_of, dbt_valid_from))))
),

ordered as (
    select
        *,
        row_number() over by_version as version_number,
        count(*) over (partition by period_start, kpi) as versions,
        kpi_value is distinct from lag(kpi_value) over by_version
            and row_number() over by_version > 1 as is_change
    from long
    window by_version as (partition by period_start, kpi order by dbt_valid_from)
),

changes as (
    select period_start, kpi, count(*) filter (where is_change) as restatements
    from ordered
    group by period_start, kpi
),

first_published as (
    select * from ordered where version_number = 1
),

latest as (
    select * from ordered where version_number = versions
),

final as (
    select
        first_published.period_start,
        -- Only closed periods are snapshotted: always false, said as every period mart says it.
        false as is_partial_period,
        first_published.kpi,
        first_published.kpi_value as first_published_value,
        latest.kpi_value as latest_value,
        latest.kpi_value - first_published.kpi_value as restatement,
        round((latest.kpi_value - first_published.kpi_value) / nullif(abs(first_published.kpi_value), 0), 4)
            as relative_restatement,
        latest.kpi_value is distinct from first_published.kpi_value as is_restated,
        changes.restatements,
        first_published.as_of as first_published_as_of,
        first_published.dbt_valid_from as first_published_at,
        latest.as_of as latest_as_of,
        latest.dbt_valid_from as latest_published_at
    from first_published
    inner join latest on first_published.period_start = latest.period_start and first_published.kpi = latest.kpi
    inner join changes on first_published.period_start = changes.period_start and first_published.kpi = changes.kpi
)

select * from final
