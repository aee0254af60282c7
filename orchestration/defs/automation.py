"""Jobs, the landing sensor and the daily schedule.

Every job runs in one process (``in_process_executor`` in ``definitions``) and carries the tag
``cdp/warehouse=write``; the instance's run queue admits one run with that tag at a time (see
``orchestration/runtime/instance.py``), so two writers never meet on the DuckDB file.
"""

import hashlib
import json

import dagster as dg

from orchestration.defs.common import IDENTITY_KPI_RANGE_KEY
from orchestration.defs.raw import raw_asset_key
from orchestration.exports import SOURCES, effective_tables
from orchestration.ingest.landing import matches
from orchestration.runtime.changes import landing_files_not_logged, nothing_to_do
from orchestration.settings import get_settings

WRITE_TAGS = {"cdp/warehouse": "write"}

ingest_job = dg.define_asset_job(
    "ingest_landing_files",
    selection=dg.AssetSelection.groups(*SOURCES, "landing"),
    description="Load new landing files into the raw layer (started by the landing sensor).",
    tags=WRITE_TAGS,
)

full_pipeline_job = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(IDENTITY_KPI_RANGE_KEY),
    description="Every asset, in dependency order, with its checks (the identity KPI range apart: "
    "its own weekly job).",
    tags=WRITE_TAGS,
)


@dg.schedule(
    name="daily_full_pipeline",
    job=full_pipeline_job,
    cron_schedule="0 5 * * *",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Runs the whole pipeline every morning at 05:00 Paris time, unless nothing is new: the "
        "tick is then skipped with the reason (orchestration/runtime/changes.py)."
    ),
)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    line = nothing_to_do(get_settings())
    return dg.SkipReason(line) if line else dg.RunRequest()


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Watches landing/<source>/ and starts ingestion of the tables that received files the "
        "warehouse's raw.load_log has not logged at their size and modification time, once each file "
        "has kept them for one tick (a file still being copied is not picked up)."
    ),
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    settings = get_settings()
    landing = settings.landing_dir
    new = landing_files_not_logged(settings)
    if new is None:
        return dg.SkipReason(
            "The warehouse is being written (a run): new files are looked for at the next tick."
        )
    exports = effective_tables(settings.data_dir)
    state = json.loads(context.cursor) if context.cursor else {"pending": {}, "submitted": {}}
    pending: dict[str, list[float]] = state["pending"]
    submitted: dict[str, list[float]] = state["submitted"]
    ready: dict[str, list[float]] = {}
    unknown: list[str] = []
    tables = set()
    for path in sorted(landing.rglob("*")) if landing.exists() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        rel = path.relative_to(landing).as_posix()
        if rel not in new:  # loaded, quarantined or ignored already: raw.load_log has it
            submitted.pop(rel, None)
            pending.pop(rel, None)
            continue
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns]
        if submitted.get(rel) == signature:  # asked for, not yet logged (the run is queued)
            continue
        matching = [t for t in exports if matches(t, rel)]
        if not matching:
            unknown.append(rel)
            continue
        if pending.get(rel) == signature:
            ready[rel] = signature
            tables.update(raw_asset_key(t) for t in matching)
            pending.pop(rel)
        else:
            pending[rel] = signature  # seen for the first time or still growing: wait a tick
    if unknown:
        context.log.warning(f"Files matching no export table (ignored): {unknown[:20]}")
    if not ready:
        context.update_cursor(json.dumps({"pending": pending, "submitted": submitted}))
        return dg.SkipReason(f"No stable new files ({len(pending)} waiting to stop growing).")
    submitted.update(ready)
    run_key = hashlib.sha256(json.dumps(sorted(ready.items())).encode()).hexdigest()[:20]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key,
                asset_selection=sorted(tables, key=lambda k: k.to_user_string()),
                tags={"cdp/new_files": str(len(ready))},
            )
        ],
        cursor=json.dumps({"pending": pending, "submitted": submitted}),
    )


defs = dg.Definitions(
    jobs=[ingest_job, full_pipeline_job],
    schedules=[daily_schedule],
    sensors=[landing_sensor],
)
