"""``cdp bench``: generate N customers, run the whole pipeline, and say where the time went.

What it measures, in one folder of its own (never the user's warehouse): ``data/`` is the run's
``CDP_DATA_DIR``; the truth sits outside it, in ``truth/``, so the run does not spend time scoring
itself against it as it would on a data folder holding truth.

1. generation (``cdp generate``'s function, in this process and its workers), timed apart;
2. the **floor**: one DuckDB scan of every landing file (every CSV and NDJSON record parsed once,
   all columns as text), the least any pipeline over these files could cost;
3. the pipeline, as users run it: ``cdp run`` in a child process on a fresh warehouse. Stage times
   come from the run's own event log (Dagster step start/end), identity sub-stages from the
   identity asset's ``stage_seconds`` metadata; the resident memory of the whole process tree
   (``cdp run``, dbt, Dagster) is sampled from ``/proc`` every 0.2 s;
4. identity accuracy against the generator's truth (pairwise precision, recall, F1);
5. with ``--increment-days N``: the last N days are generated one file per day and held back
   from the full run, which covers the earlier history; then a run with **nothing new** is timed
   (it should cost a fraction of a second), then each day's files are moved into the landing
   folder and ``cdp run`` is timed, against the full run; after the last day the incremental
   customer ids are compared (pairwise F1) with a full re-resolution (``cdp run --full-identity``)
   of the same records, and both with the truth.

Beside every stage's time (generation, floor, full run, nothing new, each day, full identity) it
records the disk's IO pressure over the stage (``disk``), and the bytes written: the landing files
(gzip-compressed with ``--gzip``) and what the warehouse and serving folders occupy after the run.

Results go to ``bench.json`` in the folder, and optionally as a row of the results table in
``docs/benchmarks.md``. This module runs the steps in order; each has a module of its own: ``floor``
(2), ``pipeline_run`` and ``memory`` (3), ``increments`` (5), ``report`` (the terminal table and
the results table's row), ``provenance`` (the commit and machine measured).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration.benchmarks.disk import IoPressure, folder_bytes
from orchestration.benchmarks.floor import floor_scan
from orchestration.benchmarks.increments import hold_daily_files, increments
from orchestration.benchmarks.memory import RssSampler
from orchestration.benchmarks.pipeline_run import (
    ROW_BASIS,
    Stage,
    row_counts,
    run_cdp,
    stage_figures,
    step_spans,
)
from orchestration.benchmarks.provenance import code_commit, machine
from orchestration.generate import generate
from orchestration.identity import evaluate_warehouse
from orchestration.settings import Settings, data_folder

# ``cdp bench``'s face (orchestration/cli/bench.py): the benchmark, its terminal table, its row
# of the results table.


@dataclass(frozen=True)
class FullRun:
    """The full run: wall seconds, memory samples, row counts, stages, IO pressure."""

    seconds: float
    sampler: RssSampler
    counts: dict[str, int]
    stages: list[Stage]
    io_pressure: dict | None


def bench(
    customers: int,
    folder: Path,
    *,
    seed: int = 42,
    reuse_data: bool = False,
    echo=print,
    realism: float = 1.0,
    increment_days: int = 0,
    gzip: bool = False,
) -> dict:
    """Run the benchmark in ``folder`` (its warehouse, trained model, serving and instance are wiped first).

    ``realism`` is passed to the generator (0: data without the habits of real data in
    ``generate.noise.REALISM``), to measure identity accuracy with and without them.
    ``increment_days``: replay that many last days as daily deliveries after the full run
    (``increments``). ``gzip``: generate the landing files gzip-compressed.
    """
    data, truth = data_folder(folder / "data"), folder / "truth"
    landing = data.landing_dir
    commit = code_commit()  # the code measured: read before the minutes the run takes
    generation = None
    if not (reuse_data and landing.exists() and any(landing.rglob("*.*"))):
        generation = _generate(landing, truth, customers, seed, realism, increment_days, gzip, echo)
    _clear_run_state(data)
    held = folder / "held"
    landing_bytes = folder_bytes(landing) + folder_bytes(held)  # held days of an earlier bench too
    landing_gzip = any(p.suffix == ".gz" for p in (*landing.rglob("*"), *held.rglob("*")))
    days = _hold_back_days(landing, held) if increment_days else []
    floor = _floor(data, echo)
    run = _full_run(data, folder, echo)
    identity = _identity_accuracy(data, truth, run)
    result = {
        "customers": customers,
        "seed": seed,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": machine(),
        "duckdb_threads": data.duckdb_threads,
        "generation": generation,
        "floor": floor,
        "pipeline": {
            "seconds": round(run.seconds, 2),
            "peak_rss_mb": run.sampler.peak_mb(),
            "io_pressure": run.io_pressure,
        },
        "total_to_floor": round(round(run.seconds, 2) / floor["seconds"], 1),
        "counts": run.counts,
        "stages": [asdict(s) for s in run.stages],
        "row_basis": ROW_BASIS,
        "identity": identity,
        "bytes": {
            "landing": landing_bytes,
            "landing_gzip": landing_gzip,
            "warehouse": folder_bytes(data.warehouse_path.parent),
            "serving": folder_bytes(data.serving_dir),
        },
    }
    if increment_days:
        result["increments"] = increments(
            data, truth, held, days[-increment_days:], folder, run.seconds, floor["seconds"], echo
        )
    (folder / "bench.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def _generate(
    landing: Path,
    truth: Path,
    customers: int,
    seed: int,
    realism: float,
    daily_days: int,
    gzip: bool,
    echo,
) -> dict:
    """Fresh landing files and truth, the generation timed, its peak memory sampled and the IO
    pressure over it read."""
    shutil.rmtree(landing, ignore_errors=True)
    shutil.rmtree(truth, ignore_errors=True)
    echo(f"generating {customers:,} customers (seed {seed}, realism {realism}, gzip {gzip}) into {landing}")
    with RssSampler(os.getpid()) as sampler, IoPressure() as pressure:
        stats = generate(
            landing,
            truth,
            customers=customers,
            seed=seed,
            realism=realism,
            daily_days=daily_days,
            gzip=gzip,
        )
    return {
        "realism": realism,
        "gzip": gzip,
        "seconds": round(stats.seconds, 2),
        "peak_rss_mb": sampler.peak_mb(),
        "rows": sum(stats.rows.values()),
        "identity_records": stats.identity_records,
        "landing_bytes": folder_bytes(landing),
        "io_pressure": pressure.figures,
    }


def _clear_run_state(data: Settings) -> None:
    """Wipe what an earlier run left, so that the run starts from a fresh warehouse."""
    # identity/: a model trained by an earlier run; a fresh warehouse trains its own (stage "train").
    for path in (
        data.warehouse_path.parent,
        data.trained_model_path.parent,
        data.serving_dir,
        data.quarantine_dir,
        data.dagster_home,
        data.tmp_dir,
    ):
        shutil.rmtree(path, ignore_errors=True)


def _hold_back_days(landing: Path, held: Path) -> list[str]:
    """Hold the daily files back from the full run; their days in order."""
    days = hold_daily_files(landing, held)
    # A quiet day (few customers) has no file; a late event can make one after the end date.
    if not days:
        raise RuntimeError(
            f"no daily files in {landing}: generate again without --reuse-data (the data needs --daily-days)"
        )
    return days


def _floor(data: Settings, echo) -> dict:
    echo("floor: one DuckDB scan of every landing file")
    with IoPressure() as pressure:
        floor = floor_scan(data.landing_dir, data.duckdb_threads)
    floor["io_pressure"] = pressure.figures
    echo(
        f"  {floor['rows']:,} records, {floor['files']} files, {floor['megabytes']} MB: {floor['seconds']} s"
    )
    return floor


def _full_run(data: Settings, folder: Path, echo) -> FullRun:
    """``cdp run`` on the fresh warehouse, its time split into stages."""
    echo("pipeline: cdp run on a fresh warehouse")
    with IoPressure() as pressure:
        total, returncode, sampler = run_cdp(data, folder / "cdp-run.log")
    if returncode != 0:
        raise RuntimeError(f"cdp run failed (exit {returncode}); see {folder / 'cdp-run.log'}")
    spans, identity = step_spans(data)
    counts = row_counts(data)
    stages = stage_figures(spans, identity, counts, total, sampler)
    return FullRun(total, sampler, counts, stages, pressure.figures)


def _identity_accuracy(data: Settings, truth: Path, run: FullRun) -> dict:
    """Identity's speed, and its accuracy against the generator's truth and the baseline's."""
    started = time.perf_counter()
    evaluation = evaluate_warehouse(data.warehouse_path, truth / "identities.csv")
    accuracy, baseline = evaluation.model, evaluation.baseline
    identity_seconds = sum(s.seconds for s in run.stages if s.name in ("standardise", "link", "cluster"))
    return {
        "records_per_minute": round(run.counts["identity_records"] / identity_seconds * 60),
        "pairwise_precision": round(accuracy.pairwise_precision, 4),
        "pairwise_recall": round(accuracy.pairwise_recall, 4),
        "pairwise_f1": round(accuracy.pairwise_f1, 4),
        "baseline_f1": round(baseline.pairwise_f1, 4),
        "evaluation_seconds": round(time.perf_counter() - started, 1),
    }
