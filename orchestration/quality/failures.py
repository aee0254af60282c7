"""The rows behind a failed dbt test, with the landing file and line they came from.

The dbt asset keeps the failing rows of each data test that failed or warned as a table in schema
``test_failures``, named after the test (``orchestration/defs/dbt.py``: those tests run again with
``dbt test --store-failures``). When a test fails, ``cdp run`` prints a
few of those rows; rows of models that carry lineage (``source_file``, ``source_line``: every
staging model and the facts) name the landing file and line the value came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.quality.messages import text_of
from orchestration.warehouse import raw, table_exists

FAILURES_SCHEMA = "test_failures"
SHOWN_ROWS = 5


@dataclass(frozen=True)
class FailingRows:
    test: str
    total: int
    lines: list[str]  # one readable line per shown row


def failing_rows(warehouse: Path, test_name: str, limit: int = SHOWN_ROWS) -> FailingRows | None:
    """A few failing rows of dbt test ``test_name``, or None when dbt stored none for it."""
    if not warehouse.exists():
        return None
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        if not table_exists(con, FAILURES_SCHEMA, test_name):
            return None
        relation = f'{FAILURES_SCHEMA}."{test_name}"'
        total = con.execute(f"select count(*) from {relation}").fetchall()[0][0]
        cursor = con.execute(f"select * from {relation} limit {int(limit)}")
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return FailingRows(test_name, total, [_describe(dict(zip(names, r, strict=True))) for r in rows])


def drop_stored(con: duckdb.DuckDBPyConnection, tests: Iterable[str]) -> None:
    """Drop the failing rows kept for ``tests`` (which passed this time): ``test_failures`` holds
    what is failing now. Views too: before 2026-11-29 every test kept its rows in a view."""
    stored = dict(
        con.execute(
            "select table_name, table_type from information_schema.tables where table_schema = ?",
            [FAILURES_SCHEMA],
        ).fetchall()
    )
    for name in sorted(stored.keys() & set(tests)):
        kind = "view" if stored[name] == "VIEW" else "table"
        con.execute(f'drop {kind} if exists {FAILURES_SCHEMA}."{name}"')


def _describe(row: dict[str, object]) -> str:
    """``col value, ...`` then ``(from landing/<file>, line <n>)`` when the row has lineage."""
    source = row.pop("source_file", None) or row.pop("_source_file", None)
    line = row.pop("source_line", None) or row.pop("_source_line", None)
    values = text_of(dict(list(row.items())[:8]))
    return values + (f" (from landing/{source}, line {line})" if source else "")


def files_not_loaded(warehouse: Path, run_id: str) -> list[tuple[str, str, str]]:
    """(status, file, reason) of every landing file the run logged and did not load, read after the
    run on a read-only connection (see ``raw.files_not_loaded``)."""
    if not warehouse.exists():
        return []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return raw.files_not_loaded(con, run_id)
    except duckdb.Error:
        return []
    finally:
        con.close()
