"""Customers as another match threshold would cluster them: the identity side of the KPI range.

Every headline KPI counts customers, and where the match threshold sits decides who is one
customer. The KPI range (docs/kpis.md, "Identity range") computes the headline figures again with
the records clustered at a stricter and a looser threshold (identity.yml, ``kpi_range``). Here each
variant is one more clustering of every record, with the same steps as a full run's
(``cluster.cluster_scope``: first-name guard, conflicts, shared identifiers and attachments,
steward decisions, flagged clusters), over the pairs the last resolution kept: scoring keeps them
from the looser threshold on (``IdentitySettings.scored_floor``), so nothing is scored again.

It writes ``identity_range.customer_source_records``: ``identity.customer_source_records`` once per
variant (column ``variant``), each record under its variant's cluster (the cluster's smallest
record id: counts are what the range reads, not stable ids). The warehouse's own identity tables
are left as they are.
"""

from __future__ import annotations

import dataclasses
import time

import duckdb

from orchestration.identity import decisions
from orchestration.identity.cluster import Scope, cluster_scope
from orchestration.identity.config import IdentitySettings
from orchestration.warehouse import table_exists

RANGE_SCHEMA = "identity_range"
RANGE_RECORDS = f"{RANGE_SCHEMA}.customer_source_records"
WORK = f"{RANGE_SCHEMA}_work"


def thresholds(identity: IdentitySettings) -> dict[str, float]:
    """The KPI range's variants clustered here and their match probabilities (the published one is
    the warehouse's own clustering)."""
    return {k: v for k, v in identity.range_thresholds.items() if k != "published"}


def cluster_variants(
    con: duckdb.DuckDBPyConnection, identity: IdentitySettings, variants: dict[str, float]
) -> dict[str, tuple[int, float]]:
    """Cluster every record at each variant's threshold into ``RANGE_RECORDS``; per variant, its
    customers and the seconds its clustering took."""
    con.execute(
        f"""
        create schema if not exists {RANGE_SCHEMA};
        create or replace table {RANGE_RECORDS} as
        select ''::varchar as variant, * from identity.customer_source_records where false
        """
    )
    done = {}
    for variant, threshold in variants.items():
        started = time.perf_counter()
        con.execute(f"drop schema if exists {WORK} cascade; create schema {WORK}")
        try:
            if table_exists(con, "identity", "steward_decisions"):
                decisions.work_tables(con, WORK)
            scope = Scope("identity.records", f"{WORK}.edges", WORK)
            cluster_scope(con, scope, dataclasses.replace(identity, match_probability=threshold))
            # A record without identity (customer_id null) stays without; the others take their
            # variant's cluster.
            con.execute(
                f"""
                insert into {RANGE_RECORDS}
                select ?, c.* replace (
                    case when c.customer_id is not null then coalesce(v.cluster_id, c.customer_id) end
                    as customer_id)
                from identity.customer_source_records c
                left join {WORK}.clusters v using (unique_id)
                """,
                [variant],
            )
        finally:
            con.execute(f"drop schema if exists {WORK} cascade")
        customers = con.execute(
            f"select count(distinct customer_id) from {RANGE_RECORDS} where variant = ?", [variant]
        ).fetchall()[0][0]
        done[variant] = (customers, time.perf_counter() - started)
    return done


def drop_records(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the variants' record-to-customer map once the range is read (a copy of every record's
    key and source: nothing an erasure should have to find again)."""
    con.execute(f"drop table if exists {RANGE_RECORDS}")
