"""What the raw assets show once a table is loaded: its row count, a few rows with PII masked, and
the load log's files per status. Read here so that the Dagster assets hold no SQL of their own."""

from __future__ import annotations

import duckdb

from orchestration.exports.spec import ExportTable


def row_count(con: duckdb.DuckDBPyConnection, spec: ExportTable) -> int:
    """Rows in ``raw.<table>``, every delivered version counted."""
    return con.execute(f"select count(*) from raw.{spec.table}").fetchall()[0][0]


def preview(con: duckdb.DuckDBPyConnection, spec: ExportTable, limit: int) -> tuple[list[str], list[tuple]]:
    """(header, rows) of the last loaded rows, the first ten columns and the lineage, PII masked."""
    shown = spec.columns[:10]
    select = ", ".join(
        f"""case when "{c.name}" is null then null else '•••' end""" if c.pii else f'"{c.name}"'
        for c in shown
    )
    rows = con.execute(
        f"select {select}, _source_file, _source_line from raw.{spec.table} "
        f"order by _loaded_at desc, _source_file, _source_line limit {limit}"
    ).fetchall()
    return [c.name for c in shown] + ["_source_file", "_source_line"], rows


def files_per_status(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many ``raw.load_log`` rows each status has, over every table and run."""
    return dict(con.execute("select status, count(*) from raw.load_log group by status").fetchall())
