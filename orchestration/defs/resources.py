"""The warehouse resource: every asset reads and writes DuckDB through it, never on its own.

A DuckDB file accepts one read-write process at a time, so the connection is opened for the
duration of one step and always closed, also when the step fails (the stock ``DuckDBResource``
leaves it to the garbage collector on errors, which can keep the file locked for the next writer).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from orchestration.lib.dbt import dbt_cli
from orchestration.settings import Settings, get_settings


class WarehouseResource(DuckDBResource):
    """DuckDB warehouse with thread and memory limits from settings, sessions in UTC."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.database != ":memory:":
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as con:
            try:
                con.execute("set TimeZone = 'UTC'")
                yield con
            finally:
                con.close()


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """Resources keyed as assets expect them; read from the environment when not given.

    dbt reads the warehouse path from ``CDP_DATA_DIR`` itself (``dbt_project/profiles.yml``), so
    the dbt subprocess and the Dagster assets always agree on the file.
    """
    settings = settings or get_settings()
    return {
        "dbt": dbt_cli(),
        "warehouse": WarehouseResource(
            database=str(settings.warehouse_path),
            connection_config={
                "threads": settings.duckdb_threads,
                "memory_limit": settings.duckdb_memory_limit,
            },
        ),
    }
