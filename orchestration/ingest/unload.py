"""``cdp unload FILE``: take a delivered file's rows back out of raw, and say so in the load log.

A bad delivery (an export cut short, the wrong month, a file from another shop) loaded, or stopped
the run on a blocking check: its rows must go, and nothing else. Deleting the file from landing/
does not do it (a loaded file's rows stay in raw, and the run says so), and wiping the warehouse
loses everything. Unloading deletes the file's rows from ``raw.<table>`` and
``raw.quarantine_rows`` in one transaction and marks its ``raw.load_log`` rows ``retired``, with
who and when. The file, if still under landing/, is not read again (same path, size and time);
a corrected file, or the same content delivered again, loads.

What was derived from the rows is derived again by the next run: identity finds a delivery gone
(``identity.incremental.raw_delta``: a full standardisation) and dbt's incremental models are
rebuilt in full (``runtime.changes.tables_with_rows_removed`` counts retired files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.exports import ALL_TABLES
from orchestration.warehouse.raw import ensure_raw_schema

RETIRABLE = ("loaded", "quarantined")


class UnloadError(ValueError):
    """Nothing to unload under that name; the message says what the load log holds."""


@dataclass(frozen=True)
class Unloaded:
    """What one unload took out, per raw table."""

    file: str
    rows: dict[str, int] = field(default_factory=dict)  # raw.<table> -> rows deleted
    quarantine_rows: int = 0
    versions: int = 0  # load_log rows retired (a file delivered again under its name: several)

    def describe(self) -> str:
        tables = ", ".join(f"{n} rows of {t}" for t, n in self.rows.items()) or "no rows"
        return (
            f"retired {self.file}: {tables} and {self.quarantine_rows} quarantined line(s) removed; "
            f"{self.versions} load(s) marked retired in raw.load_log"
        )


def landing_path(file: str | Path, landing_dir: Path) -> str:
    """``file`` as the load log names it: relative to landing/ (``ecommerce/customers_x.csv``).

    Accepted as a path to the file (which may be gone), relative to landing/, or with ``landing/``."""
    path = Path(file)
    try:
        return path.resolve().relative_to(landing_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix().removeprefix("./").removeprefix("landing/")


def unload(con: duckdb.DuckDBPyConnection, file: str | Path, landing_dir: Path, by: str) -> Unloaded:
    """Delete ``file``'s rows from raw and mark its loads ``retired`` (by ``by``, now)."""
    for spec in ALL_TABLES:
        ensure_raw_schema(con, spec)
    rel = landing_path(file, landing_dir)
    loads = con.execute(
        "select table_name, file_sha256 from raw.load_log where file_path = ? and status in (?, ?)",
        [rel, *RETIRABLE],
    ).fetchall()
    if not loads:
        known = [
            p
            for (p,) in con.execute(
                "select distinct file_path from raw.load_log where status in (?, ?) and file_path ilike ?"
                " order by 1 limit 5",
                [*RETIRABLE, f"%{Path(rel).name}%"],
            ).fetchall()
        ]
        hint = f" (did you mean {', '.join(known)}?)" if known else ""
        raise UnloadError(f"{rel}: no loaded file of that name in raw.load_log{hint}")
    tables = {t.table for t in ALL_TABLES}
    rows: dict[str, int] = {}
    quarantined = 0
    con.execute("begin transaction")
    try:
        for table, sha in loads:
            if table in tables:  # names come from the load log: only raw tables are touched
                (deleted,) = con.execute(
                    f"delete from raw.{table} where _source_file = ? and _file_sha256 = ?", [rel, sha]
                ).fetchall()[0]
                rows[f"raw.{table}"] = rows.get(f"raw.{table}", 0) + int(deleted)
            quarantined += int(
                con.execute(
                    "delete from raw.quarantine_rows where table_name = ? and file_sha256 = ?"
                    " and file_path = ?",
                    [table, sha, rel],
                ).fetchall()[0][0]
            )
        con.execute(
            "update raw.load_log set status = 'retired', retired_at = ?, retired_by = ?"
            " where file_path = ? and status in (?, ?)",
            [datetime.now(UTC), by, rel, *RETIRABLE],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return Unloaded(rel, rows, quarantined, len(loads))
