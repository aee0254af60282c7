"""Which raw rows a run's checks read: the rows loaded since the raw table last passed them.

Raw tables only grow by delivered files, and a row never changes once loaded (a file delivered
again is a new load). Checking every row of every raw table at every run made a day's checks cost
as much as the whole history's (the GX suites read all 3.8 M raw rows at 100,000 customers, 37 M at
1 M): a daily run now checks the rows it loaded. What is "new" is kept in the warehouse
(``pipeline.raw_checked``: per raw table, the newest ``_loaded_at`` whose rows passed every
critical check), never remembered from a run, so:

- a run whose blocking check fails moves nothing: the next run checks the same rows again (plus
  its own), and fails again until the data is fixed, as when every row was checked;
- a run that stopped between loading and checking leaves its rows to the next run;
- when nothing new arrived, the newest load is checked again, so a suite never runs on zero rows
  (a column's maximum over no rows would fail the freshness check);
- the ``quality_checks`` job (and any run tagged ``cdp/raw_checks: all``) reads every row.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb

from orchestration.quality.gx import Suite
from orchestration.warehouse import STATE_SCHEMA

CHECKED_TABLE = f"{STATE_SCHEMA}.raw_checked"
# Run tag that makes the raw checks read every row (set by the quality_checks job).
ALL_ROWS_TAG = "cdp/raw_checks"


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(
        f"""
        create table if not exists {CHECKED_TABLE} (
            table_name varchar primary key,
            checked_through timestamptz not null,
            run_id varchar,
            checked_at timestamptz not null
        )
        """
    )


def checked_through(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The newest ``_loaded_at`` of ``raw.<table>`` whose rows passed every critical check, as
    DuckDB writes a timestamptz (with its offset: it casts back to the same instant)."""
    _ensure(con)
    rows = con.execute(
        f"select checked_through::varchar from {CHECKED_TABLE} where table_name = ?", [table]
    ).fetchall()
    return rows[0][0] if rows else None


def scoped(con: duckdb.DuckDBPyConnection, suite: Suite, every_row: bool) -> tuple[Suite, str]:
    """``suite`` restricted to the raw rows not checked yet, and the scope in words for the UI.

    The filter is one comparison of ``_loaded_at`` with a constant, so DuckDB skips the row groups
    of earlier loads (rows are appended in load order) instead of reading every column of every
    row to test it.
    """
    table = suite.asset_key[1]
    since = None if every_row else checked_through(con, table)
    if since is None:
        return suite, "every row"
    [(anything_new, newest)] = con.execute(
        f"select max(_loaded_at) > ?::timestamptz, max(_loaded_at)::varchar from raw.{table}", [since]
    ).fetchall()
    if newest is None:  # the table was emptied: nothing to restrict
        return suite, "every row"
    if anything_new:
        condition, words = f"_loaded_at > '{since}'::timestamptz", f"rows loaded after {since}"
    else:
        condition = f"_loaded_at >= '{newest}'::timestamptz"
        words = f"the newest load ({newest}): nothing loaded since"
    return replace(suite, query=f"select * from ({suite.query}) where {condition}"), words


def record_checked(con: duckdb.DuckDBPyConnection, table: str, run_id: str) -> None:
    """Every row of ``raw.<table>`` now passed the critical checks: the next scope starts after them."""
    _ensure(con)
    con.execute(
        f"""
        insert or replace into {CHECKED_TABLE}
        select ?, max(_loaded_at), ?, now() from raw.{table} having max(_loaded_at) is not null
        """,
        [table, run_id],
    )
