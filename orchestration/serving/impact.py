"""The merge-impact preview: what a run's customer ids change against the last publication, before
it is published.

A model change, a new setting or a delivery that links two large households can merge or split
thousands of customers at once, and every KPI of every closed month moves with them. The preview
compares the warehouse's new customer ids (``marts.bridge_customer_source_records``, after dbt)
with the ones BI tools read (the published file's copy of it):

- **records moved**: records published under one customer id and now under another (new records
  and erased ones are not moves);
- **customers changed**: published customers that lost or gained a record that way, and their share
  of the published customers;
- **merged**: published customer ids gone, their records under another id; **split**: new ids
  holding records published under an id that still exists elsewhere;
- the **headline KPIs of the last closed period** (the latest complete period of the published
  ``mart_retention``): customers (``dim_customers``), active and new customers and 12-month retention
  (``mart_retention``), multichannel and omnichannel rates (``mart_multichannel_customers``), as
  published, as they would be, and the difference.

Above the limit (``CDP_IDENTITY_IMPACT_LIMIT``, a share of the published customers changed), the
publication waits for a person's approval (``cdp identity approve`` or the job
``identity_approve_impact``): the approval is kept for that exact change (a digest of the published
and the new customer ids), so a later run that changes more asks again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import duckdb

APPROVALS_DDL = """
create schema if not exists serving_state;
create table if not exists serving_state.identity_impact_approvals (
    approved_at timestamptz not null,
    approved_by varchar not null,
    why varchar,
    digest varchar not null,           -- Preview.digest: the published and the new customer ids
    preview json not null              -- the preview approved
)
"""
# Headline KPIs of the last closed period: name → (mart, column); "customers" counts dim_customers.
KPIS = {
    "customers": ("dim_customers", None),
    "active_customers": ("mart_retention", "active_customers"),
    "new_customers": ("mart_retention", "new_customers"),
    "retention_rate_12m": ("mart_retention", "retention_rate_12m"),
    "multichannel_rate": ("mart_multichannel_customers", "multichannel_rate"),
    "omnichannel_rate": ("mart_multichannel_customers", "omnichannel_rate"),
}
BRIDGE = "bridge_customer_source_records"
# Beside the published file: the preview of the last run (what the KPI report says of the
# publication it describes).
IMPACT_FILE = "identity_impact.json"


@dataclass(frozen=True)
class Preview:
    """What publishing the warehouse's marts would change for BI readers, identity-wise."""

    first_publication: bool
    published_customers: int = 0
    customers_changed: int = 0
    records_moved: int = 0
    merged: int = 0
    split: int = 0
    period: str | None = None
    # KPI → (published, new, new - published), for the last closed period.
    kpis: dict[str, tuple[float | None, float | None, float | None]] = field(default_factory=dict)
    digest: str = ""

    @property
    def share_changed(self) -> float:
        return self.customers_changed / self.published_customers if self.published_customers else 0.0

    def describe(self) -> str:
        if self.first_publication:
            return "first publication: nothing to compare with"
        deltas = ", ".join(
            f"{name} {before:.6g} → {after:.6g} ({delta:+.4g})"
            for name, (before, after, delta) in self.kpis.items()
            if delta is not None
        )
        return (
            f"{self.customers_changed:,} of {self.published_customers:,} published customers changed "
            f"({self.share_changed:.2%}): {self.records_moved:,} records moved, {self.merged:,} customers "
            f"merged into others, {self.split:,} split off; period {self.period}: {deltas or 'no KPI change'}"
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "share_changed": round(self.share_changed, 6)}


def preview(con: duckdb.DuckDBPyConnection, published: Path) -> Preview:
    """The preview of publishing ``con``'s marts over the publication ``published`` (attached
    read-only, as a BI reader would)."""
    if not published.exists():
        return Preview(first_publication=True)
    con.execute(f"attach '{published}' as _published (read_only)")
    try:
        if not _has(con, "_published", BRIDGE):
            return Preview(first_publication=True)
        return _compare(con)
    finally:
        con.execute("detach _published")


def _has(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> bool:
    sql = "select count(*) from duckdb_tables() where database_name = ? and table_name = ?"
    return bool(con.execute(sql, [catalog, table]).fetchall()[0][0])


def _compare(con: duckdb.DuckDBPyConnection) -> Preview:
    published_customers, changed, moved, merged, split, digest = con.execute(
        f"""
        with p as (select source_record_key, customer_id from _published.main.{BRIDGE}),
        n as (select source_record_key, customer_id from marts.{BRIDGE}),
        moved as (
            select p.source_record_key, p.customer_id as before_id, n.customer_id as after_id
            from p join n using (source_record_key) where p.customer_id <> n.customer_id
        ),
        published_ids as (select distinct customer_id from p),
        new_ids as (select distinct customer_id from n)
        select
            (select count(*) from published_ids),
            (select count(*) from (
                select before_id from moved
                union select after_id from moved where after_id in (select customer_id from published_ids))),
            (select count(*) from moved),
            (select count(distinct before_id) from moved
             where before_id not in (select customer_id from new_ids)),
            (select count(distinct after_id) from moved
             where after_id not in (select customer_id from published_ids)),
            (select coalesce(bit_xor(hash(source_record_key, customer_id)), 0) from p)::varchar || ':' ||
            (select coalesce(bit_xor(hash(source_record_key, customer_id)), 0) from n)::varchar
        """
    ).fetchall()[0]
    period = last_closed_period(con, "_published.main")
    kpis = {name: _kpi(con, mart, column, period) for name, (mart, column) in KPIS.items()}
    return Preview(
        False, published_customers, changed, moved, merged, split,
        str(period) if isinstance(period, date) else None, kpis,
        hashlib.sha256(digest.encode()).hexdigest()[:16],
    )  # fmt: skip


def _kpi(
    con: duckdb.DuckDBPyConnection, mart: str, column: str | None, period: date | None
) -> tuple[float | None, float | None, float | None]:
    before, after = (kpi_value(con, schema, mart, column, period) for schema in ("_published.main", "marts"))
    return before, after, None if before is None or after is None else after - before


def last_closed_period(con: duckdb.DuckDBPyConnection, schema: str) -> date | None:
    """The period the headline KPIs are read for: the latest complete one of ``mart_retention`` in
    ``schema``."""
    sql = f"select max(period_start) from {schema}.mart_retention where not is_partial_period"
    return con.execute(sql).fetchall()[0][0]


def kpi_value(
    con: duckdb.DuckDBPyConnection, schema: str, mart: str, column: str | None, period: date | None
) -> float | None:
    """A headline KPI (``KPIS``) as the marts in ``schema`` give it for ``period``: ``column`` of
    that period's row, or the rows of ``mart`` when ``column`` is None (customers)."""
    if column is None:
        return float(con.execute(f"select count(*) from {schema}.{mart}").fetchall()[0][0])
    if period is None:
        return None
    rows = con.execute(f"select {column} from {schema}.{mart} where period_start = ?", [period]).fetchall()
    return None if not rows or rows[0][0] is None else float(rows[0][0])


def approved(con: duckdb.DuckDBPyConnection, digest: str) -> str | None:
    """Who approved the change ``digest`` and when, or None."""
    con.execute(APPROVALS_DDL)
    rows = con.execute(
        "select approved_by, approved_at from serving_state.identity_impact_approvals where digest = ? "
        "order by approved_at desc limit 1",
        [digest],
    ).fetchall()
    return None if not rows else f"approved by {rows[0][0]} at {rows[0][1]:%Y-%m-%d %H:%M}"


def approve(con: duckdb.DuckDBPyConnection, current: Preview, by: str, why: str) -> None:
    """Approve publishing the change ``current`` describes."""
    con.execute(APPROVALS_DDL)
    con.execute(
        "insert into serving_state.identity_impact_approvals values (now(), ?, ?, ?, ?)",
        [by, why, current.digest, json.dumps(current.as_dict(), default=str)],
    )
