"""One ``cdp run`` measured: run in a child process with the memory of its process tree sampled,
its wall time split into stages from the run's own event log (Dagster step start and end), and
the identity step into sub-stages from its ``stage_seconds`` metadata."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.benchmarks.memory import RssSampler
from orchestration.settings import DATA_DIR_ENV, Settings

# The pipeline's stages, in run order; "other" is the rest of the wall time (process start,
# loading definitions, Dagster bookkeeping, the identity step's own metadata queries).
# "train": fitting the Splink model to the records, on a first run only (or on request).
STAGES = (
    "ingest",
    "standardise",
    "train",
    "link",
    "cluster",
    "dbt",
    "checks",
    "publish",
    "docs",
    "report",
    "other",
)


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float
    rows: int | None  # input rows the stage processes (see ``ROW_BASIS``)
    rows_per_second: float | None
    peak_rss_mb: float | None


ROW_BASIS = {
    "ingest": "raw rows read",
    "standardise": "identity records",
    "link": "identity records",
    "cluster": "identity records",
    "dbt": "raw rows loaded",
    "checks": "raw rows loaded",
    "publish": "rows published",
    "report": "rows published",
}


def stage_of(step_key: str) -> str:
    """The stage a Dagster step counts towards."""
    if step_key.startswith(("checks_", "gx_")) or step_key.endswith("_rows_reconcile"):
        return "checks"
    if step_key.startswith("raw__"):
        return "ingest"
    if step_key == "identity_resolution":
        return "identity"
    if step_key == "cdp_dbt_models":
        return "dbt"
    return {"serving__marts": "publish", "serving__dbt_docs": "docs", "serving__kpi_report": "report"}.get(
        step_key, "other"
    )


def run_cdp(data: Settings, log: Path, *args: str) -> tuple[float, int, RssSampler]:
    """``cdp run *args`` on ``data`` in a child process, its output in ``log``: wall seconds, exit
    code, and the memory samples of its process tree."""
    env = {**os.environ, DATA_DIR_ENV: str(data.data_dir)}
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "cdp"), "run", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        with RssSampler(process.pid) as sampler:
            returncode = process.wait()
        return time.perf_counter() - started, returncode, sampler


def step_spans(data: Settings) -> tuple[dict[str, list[tuple[float, float]]], dict[str, float]]:
    """Per stage, the (start, end) of its steps in the latest run; and the identity sub-stages."""
    # Dagster (40 MB resident) is imported once the run is over, not with this module: ``cdp bench``
    # samples the generation's peak memory in its own process before the run.
    import dagster as dg
    from dagster._core.events import DagsterEventType

    instance = dg.DagsterInstance.from_config(str(data.dagster_home))
    run = instance.get_runs(limit=1)[0]
    starts: dict[str, float] = {}
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            spans[stage_of(entry.step_key)].append((starts[entry.step_key], entry.timestamp))
    materialization = instance.get_latest_materialization_event(
        dg.AssetKey(["identity", "customer_source_records"])
    )
    identity = {}
    if materialization and materialization.asset_materialization:
        identity = materialization.asset_materialization.metadata["stage_seconds"].value
    instance.dispose()
    return spans, identity


def row_counts(data: Settings) -> dict[str, int]:
    """Rows read and loaded by ingest, identity records and customers, rows published."""
    con = duckdb.connect(str(data.warehouse_path), read_only=True)
    read, loaded = con.execute("select sum(rows_read), sum(rows_loaded) from raw.load_log").fetchall()[0]
    records = con.execute("select count(*) from identity.records").fetchall()[0][0]
    customers = con.execute(
        "select count(distinct customer_id) from identity.customer_source_records"
    ).fetchall()[0][0]
    con.close()
    published = duckdb.connect(str(data.published_marts_path), read_only=True)
    rows_published = published.execute("select sum(row_count) from _publication").fetchall()[0][0]
    published.close()
    return {
        "raw_rows_read": int(read),
        "raw_rows_loaded": int(loaded),
        "identity_records": records,
        "customers": customers,
        "rows_published": int(rows_published),
    }


def stage_figures(
    spans: dict[str, list[tuple[float, float]]],
    identity: dict[str, float],
    counts: dict,
    total: float,
    sampler: RssSampler,
) -> list[Stage]:
    """Seconds, rows/s and peak memory per stage; identity's split from its own timings."""
    seconds = {name: sum(e - s for s, e in spans.get(name, [])) for name in STAGES}
    seconds["standardise"] = identity.get("standardise", 0.0)
    seconds["train"] = identity.get("train", 0.0)
    seconds["link"] = identity.get("link", 0.0)
    seconds["cluster"] = identity.get("cluster", 0.0) + identity.get("stable_ids", 0.0)
    seconds["other"] = max(0.0, total - sum(v for k, v in seconds.items() if k != "other"))
    rows = {
        "ingest": counts["raw_rows_read"],
        "standardise": counts["identity_records"],
        "train": counts["identity_records"],
        "link": counts["identity_records"],
        "cluster": counts["identity_records"],
        "dbt": counts["raw_rows_loaded"],
        "checks": counts["raw_rows_loaded"],
        "publish": counts["rows_published"],
        "report": counts["rows_published"],
    }
    result = []
    for name in STAGES:
        stage_spans = spans.get("identity" if name in ("standardise", "train", "link", "cluster") else name)
        n = rows.get(name)
        result.append(
            Stage(
                name,
                round(seconds[name], 2),
                n,
                round(n / seconds[name]) if n and seconds[name] > 0 else None,
                sampler.peak_mb(stage_spans) if stage_spans else None,
            )
        )
    return result


def stage_split(data: Settings) -> dict[str, float]:
    """Seconds per stage of the latest run, from its event log."""
    spans, _ = step_spans(data)
    return {name: round(sum(e - s for s, e in spans.get(name, [])), 2) for name in sorted(spans)}


def identity_mode(data: Settings) -> str | None:
    """How the latest identity run resolved ("incremental: …" or "full: …"), from its metadata."""
    import dagster as dg  # once a run is over: see ``step_spans``

    instance = dg.DagsterInstance.from_config(str(data.dagster_home))
    try:
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["identity", "customer_source_records"])
        )
        metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
        return metadata["mode_reason"].value if "mode_reason" in metadata else None
    finally:
        instance.dispose()
