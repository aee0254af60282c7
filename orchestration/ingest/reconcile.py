"""Reconciliation of the raw layer, from the tables themselves: for every file the load log says
was read, rows read = rows in the raw table + rows in quarantine + rows of erased persons.

The loader checks the same equation before it commits a file; this reads it back afterwards, so
a row lost or duplicated since (a hand edit, an erasure gone wrong) is found. The raw assets'
blocking check (``orchestration/defs/raw.py``) reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import duckdb

from orchestration.exports.spec import ExportTable
from orchestration.warehouse.raw import ensure_raw_schema


class Mismatch(NamedTuple):
    """One file whose counts do not add up."""

    file_path: str
    rows_read: int
    in_table: int
    in_quarantine: int
    of_erased_persons: int


@dataclass(frozen=True)
class Reconciliation:
    """The files of one raw table checked, their rows read, and those that do not reconcile."""

    files_checked: int
    rows_read: int
    mismatches: list[Mismatch] = field(default_factory=list)


def reconciliation(con: duckdb.DuckDBPyConnection, spec: ExportTable) -> Reconciliation:
    """Per file: rows read = rows in the raw table + rows in quarantine, from the tables themselves,
    + the rows of erased persons the load log accounts for (suppressed at load, erased since)."""
    ensure_raw_schema(con, spec)
    bad = con.execute(
        f"""
        with loaded as (
            select _file_sha256 as sha, count(*) as n from raw.{spec.table} group by all
        ),
        quarantined as (
            select file_sha256 as sha, count(*) as n from raw.quarantine_rows
            where table_name = ? group by all
        ),
        log as (
            select file_path, file_sha256 as sha, status, rows_read, rows_loaded,
                   rows_quarantined,
                   coalesce(rows_suppressed, 0) as suppressed,
                   coalesce(rows_erased, 0) as erased,
                   coalesce(quarantine_rows_erased, 0) as quarantine_erased
            from raw.load_log where table_name = ? and status in ('loaded', 'quarantined')
        )
        select log.file_path, log.rows_read, coalesce(loaded.n, 0) as in_table,
               case when log.status = 'quarantined' then log.rows_quarantined
                    else coalesce(quarantined.n, 0) end as in_quarantine,
               log.suppressed + log.erased + log.quarantine_erased as of_erased_persons
        from log
        left join loaded using (sha)
        left join quarantined using (sha)
        where log.rows_read <> coalesce(loaded.n, 0) + case when log.status = 'quarantined'
              then log.rows_quarantined else coalesce(quarantined.n, 0) end
              + log.suppressed + log.erased + log.quarantine_erased
           or log.rows_loaded <> coalesce(loaded.n, 0) + log.erased
        """,
        [spec.table, spec.table],
    ).fetchall()
    files, rows_read = con.execute(
        "select count(*), coalesce(sum(rows_read), 0) from raw.load_log where table_name = ? "
        "and status in ('loaded', 'quarantined')",
        [spec.table],
    ).fetchall()[0]
    return Reconciliation(files, rows_read, [Mismatch(*row) for row in bad])
