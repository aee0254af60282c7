"""The local Dagster instance under ``$CDP_DATA_DIR/dagster``, shared by ``cdp run`` and ``make dev``.

Its ``dagster.yaml`` lets one run tagged ``cdp/warehouse=write`` (every job here) run at a time, and
caps the ``duckdb_warehouse`` pool (every asset that writes the warehouse) at one step across runs,
so a run launched from the UI, the schedule and the landing sensor never write DuckDB together.
"""

from __future__ import annotations

import os

import dagster as dg

from orchestration.settings import Settings

DAGSTER_YAML = """\
# Written by orchestration/instance.py; edits are overwritten.
# Run, event-log and schedule storage: SQLite files beside this one (history/, schedules/,
# storage/ for compute logs), Dagster's default for a local instance.
telemetry:
  enabled: false
concurrency:
  runs:
    tag_concurrency_limits:
      - key: cdp/warehouse
        value: write
        limit: 1
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  max_resume_run_attempts: 0
"""


def ensure_instance(settings: Settings) -> dg.DagsterInstance:
    """Write the instance configuration, point DAGSTER_HOME at it and open the instance."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()
