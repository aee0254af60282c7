"""The warehouse contract: how to open the DuckDB file and what its shared tables look like.

No Dagster and no ingestion here: every layer above (ingest, identity, privacy, quality, the
Dagster resource) reads the raw layer's shape (``warehouse.raw``) and opens connections the same
way, without importing each other for it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

# Tables the pipeline keeps about its own runs (what each stage last saw, which raw rows passed
# their checks): ``orchestration/runtime/changes.py`` and ``orchestration/quality/scope.py``.
STATE_SCHEMA = "pipeline"


def connect(
    path: Path | str,
    *,
    read_only: bool = False,
    config: dict[str, str | int] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse at ``path``, sessions in UTC.

    One process may write the file, or many read it, never both: readers outside a run open it
    ``read_only``. A writer creates the file's folder first.
    """
    if not read_only and str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config=config or {})
    con.execute("set TimeZone = 'UTC'")
    return con


def tables_in(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    """Names of the tables and views of ``schema`` (empty when it does not exist)."""
    return {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]
        ).fetchall()
    }


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists (a table or a view)."""
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )
