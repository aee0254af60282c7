"""The ``unload`` job: ``cdp unload FILE`` from the Dagster UI's Launchpad (config: the file).

It retires one delivered file's rows from raw (``orchestration/ingest/unload.py``); the next run
of the pipeline derives identity and the marts again without them.
"""

import dagster as dg

from orchestration.defs.automation import WRITE_TAGS
from orchestration.defs.common import markdown_table
from orchestration.defs.raw import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.unload import unload
from orchestration.settings import get_settings


class UnloadConfig(dg.Config):
    """The file as the load log names it (``ecommerce/customers_2026-01.csv``, relative to landing/)."""

    file: str
    by: str = ""  # who asks; the run's launcher when empty


@dg.op(pool=WAREHOUSE_POOL, tags={"kind": "duckdb"})
def unload_file(context: dg.OpExecutionContext, config: UnloadConfig, warehouse: WarehouseResource) -> None:
    """Delete the file's rows from raw and mark its loads ``retired`` in raw.load_log."""
    by = config.by or context.run.tags.get("dagster/user", "") or f"dagster run {context.run.run_id}"
    with warehouse.get_connection() as con:
        done = unload(con, config.file, get_settings().landing_dir, by)
    context.log.info(done.describe() + "; the next pipeline run derives everything again without them")
    context.add_output_metadata(
        {
            "file": done.file,
            "rows_removed": dg.MetadataValue.md(markdown_table(["table", "rows"], done.rows.items())),
            "quarantine_rows_removed": done.quarantine_rows,
            "retired_by": by,
        }
    )


@dg.job(
    name="unload",
    tags=WRITE_TAGS,
    description="Retire one delivered file: its rows out of raw, its loads marked retired (config: file).",
)
def unload_job() -> None:
    unload_file()


defs = dg.Definitions(jobs=[unload_job])
