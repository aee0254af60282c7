"""The identity KPI range: the headline KPIs again, with customers as a stricter and a looser match
threshold would cluster them, so a reader sees how much a figure depends on identity decisions.

How (docs/kpis.md, "Identity range"):

1. ``identity.variants.cluster_variants`` clusters every record again at each threshold of the range
   (identity.yml ``kpi_range``) into ``identity_range.customer_source_records``.
2. For each variant, dbt builds the models between the record-to-customer map and the headline
   marts (``SELECTION``), with var ``identity_variant`` set: the map is read from the variant, the
   models land in schemas ``identity_range_<variant>_<folder>``, and every model outside the
   selection (raw data, staging, reference) is the warehouse's own, taken from the last build's
   manifest (``--defer --favor-state``). The SQL is the project's: no second definition of a KPI.
3. The KPIs are read from each variant's marts with the rules of the merge-impact preview
   (``impact.KPIS``, the last closed period), beside the published ones; the variant schemas are
   dropped and a row per variant and KPI is added to ``identity_range.kpi_range``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from orchestration.serving import impact

# The headline marts the range reads, and the dbt selection that builds them from the map.
HEADLINE_MARTS = sorted({mart for mart, _ in impact.KPIS.values()})
SELECTION = [f"stg_identity__customer_source_records+,+{mart}" for mart in HEADLINE_MARTS]
RANGE_TABLE = "identity_range.kpi_range"
# Beside the published file: the last range, which the KPI report shows.
RANGE_FILE = "identity_kpi_range.json"
RANGE_DDL = f"""
create schema if not exists identity_range;
create table if not exists {RANGE_TABLE} (
    computed_at timestamptz not null,
    run_id varchar,
    period_start date,                 -- the last closed period (impact.KPIS's rule)
    variant varchar not null,          -- stricter, published, looser
    match_probability double not null,
    kpi varchar not null,
    value double
)
"""


def dbt_args(variant: str, state: str) -> list[str]:
    """``dbt run`` of a variant's models; ``state``: a folder holding the last build's manifest."""
    return [
        # One argument: dagster-dbt moves --select to the end, and dbt splits it on spaces.
        "run", "--select", " ".join(SELECTION), "--full-refresh",
        "--defer", "--favor-state", "--state", state,
        "--vars", json.dumps({"identity_variant": variant}),
    ]  # fmt: skip


def variant_schema(variant: str, folder: str) -> str:
    """Where a variant's build puts a folder's models (dbt's ``generate_schema_name``, with var
    ``identity_variant``): ``identity_range_<variant>_<folder>``."""
    return f"identity_range_{variant}_{folder}"


def drop_variants(con: duckdb.DuckDBPyConnection, variants: list[str]) -> None:
    """Drop what the variants' builds wrote: copies of facts and customers, personal data an erasure
    would not reach."""
    for variant in variants:
        rows = con.execute(
            "select distinct schema_name from duckdb_schemas() where starts_with(schema_name, ?)",
            [variant_schema(variant, "")],
        ).fetchall()
        for (schema,) in rows:
            con.execute(f'drop schema if exists "{schema}" cascade')


VARIANT_ORDER = ("stricter", "published", "looser")


def show(kpi: str, value: float | None) -> str:
    """A KPI's value as the report and the CLI print it."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if kpi.endswith("customers") else f"{value:.2%}"


@dataclass(frozen=True)
class KpiRange:
    """The headline KPIs of one period at each threshold of the range."""

    computed_at: str
    period: str | None
    # variant → match probability, in order: stricter, published, looser.
    thresholds: dict[str, float] = field(default_factory=dict)
    # KPI → variant → value.
    values: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def rows(self) -> list[tuple]:
        """(KPI, stricter, published, looser)."""
        return [(kpi, *(by.get(v) for v in VARIANT_ORDER)) for kpi, by in self.values.items()]

    def header(self) -> list[str]:
        return ["KPI", *(f"{v} (p ≥ {self.thresholds[v]:g})" for v in VARIANT_ORDER)]

    def shown_rows(self) -> list[list[str]]:
        """``rows`` as a person reads them: counts with thousands, rates in per cent."""
        return [[kpi, *(show(kpi, value) for value in values)] for kpi, *values in self.rows()]

    def describe(self) -> str:
        low, high = self.thresholds["stricter"], self.thresholds["looser"]
        return "; ".join(
            f"{kpi} {published} (from {stricter} at p ≥ {low:g} to {looser} at p ≥ {high:g})"
            for kpi, stricter, published, looser in self.shown_rows()
        )

    def as_dict(self) -> dict:
        return asdict(self)


def read_range(con: duckdb.DuckDBPyConnection, thresholds: dict[str, float], now: datetime) -> KpiRange:
    """The KPIs of the last closed period in the warehouse's marts (``published``) and in each
    variant's marts (``identity_range_<variant>_marts``)."""
    period = impact.last_closed_period(con, "marts")
    values: dict[str, dict[str, float | None]] = {}
    for kpi, (mart, column) in impact.KPIS.items():
        values[kpi] = {
            variant: impact.kpi_value(con, _marts_of(variant), mart, column, period) for variant in thresholds
        }
    shown = str(period) if isinstance(period, date) else None
    return KpiRange(now.isoformat(timespec="seconds"), shown, thresholds, values)


def _marts_of(variant: str) -> str:
    return "marts" if variant == "published" else variant_schema(variant, "marts")


def read_last(serving_dir: Path) -> KpiRange | None:
    """The last range computed for this data folder (``RANGE_FILE``), if any."""
    path = serving_dir / RANGE_FILE
    if not path.exists():
        return None
    said = json.loads(path.read_text(encoding="utf-8"))
    return KpiRange(said["computed_at"], said["period"], said["thresholds"], said["values"])


def record(con: duckdb.DuckDBPyConnection, r: KpiRange, run_id: str | None) -> None:
    """Add the range to ``RANGE_TABLE`` (a time series: one row per variant and KPI per run)."""
    con.execute(RANGE_DDL)
    con.executemany(
        f"insert into {RANGE_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
        [
            (r.computed_at, run_id, r.period, variant, r.thresholds[variant], kpi, value)
            for kpi, by in r.values.items()
            for variant, value in by.items()
        ],
    )
