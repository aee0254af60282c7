"""``cdp bench --increment-days N``: the last N days, held back from the full run, delivered one
by one afterwards.

First a run with nothing new (it should cost a fraction of a second), then one ``cdp run`` per
delivered day, timed against the full run; after the last day the incremental customer ids are
compared (pairwise F1) with a full re-resolution (``cdp run --full-identity``) of the same records,
and both with the truth. Each run's IO pressure is read (``disk``), and the bytes the warehouse and
serving folders occupy after each day. (``identity_increments`` measures the identity step alone, in-process.)
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import duckdb

from orchestration.benchmarks.disk import IoPressure, folder_bytes
from orchestration.benchmarks.pipeline_run import identity_mode, run_cdp, stage_split
from orchestration.identity import evaluate_warehouse, score
from orchestration.settings import Settings

DAILY = re.compile(r"_(\d{4}-\d{2}-\d{2})\.[^/]+$")


def hold_daily_files(landing: Path, held: Path) -> list[str]:
    """Move the daily files (``*_YYYY-MM-DD.*``) out of the landing folder into ``held``; return
    their days in order. Files held from an earlier benchmark go back first."""
    for path in sorted(held.rglob("*")) if held.exists() else []:
        if path.is_file():
            target = landing / path.relative_to(held)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
    days = set()
    for path in sorted(landing.rglob("*")):
        match = DAILY.search(path.name)
        if path.is_file() and match:
            days.add(match.group(1))
            target = held / path.relative_to(landing)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
    return sorted(days)


def _deliver(held: Path, landing: Path, day: str) -> int:
    """Move one day's held files into the landing folder; return how many."""
    moved = 0
    for path in sorted(held.rglob(f"*_{day}.*")):
        target = landing / path.relative_to(held)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        moved += 1
    return moved


def _customer_ids(warehouse: Path, out: Path) -> None:
    """Keep the current ``unique_id → customer_id`` as a Parquet file (compared after the full run)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    ids = "select unique_id, customer_id from identity.customer_source_records"
    con.execute(f"copy ({ids}) to '{out}' (format parquet)")
    con.close()


def agreement(incremental: Path, full: Path) -> dict:
    """Pairwise precision, recall and F1 of the incremental customer ids taking the full
    re-resolution's as the truth (``evaluate.score``)."""
    con = duckdb.connect()
    con.execute(f"create temp table _truth as select unique_id, customer_id as person_id from '{full}'")
    s = score(con, f"(select unique_id, customer_id as cluster_id from '{incremental}')")
    con.close()
    return {
        "records": s.records,
        "pairwise_precision": round(s.pairwise_precision, 5),
        "pairwise_recall": round(s.pairwise_recall, 5),
        "pairwise_f1": round(s.pairwise_f1, 5),
    }


def increments(
    data: Settings,
    truth: Path,
    held: Path,
    days: list[str],
    folder: Path,
    full_seconds: float,
    floor_seconds: float,
    echo=print,
) -> dict:
    """A run with nothing new, then one run per held day, then a full identity re-resolution."""
    warehouse = data.warehouse_path
    landing = data.landing_dir
    echo("increments: cdp run with nothing new")
    with IoPressure() as pressure:
        seconds, code, _ = run_cdp(data, folder / "cdp-run-nothing-new.log")
    if code != 0:
        raise RuntimeError(f"cdp run failed (exit {code}); see {folder / 'cdp-run-nothing-new.log'}")
    result: dict = {
        "nothing_new": {
            "seconds": round(seconds, 2),
            "to_floor": round(seconds / floor_seconds, 2),
            "to_full_run": round(seconds / full_seconds, 4),
            "output": (folder / "cdp-run-nothing-new.log").read_text(encoding="utf-8").strip()[:300],
            "io_pressure": pressure.figures,
        },
        "days": [],
    }
    echo(f"  {seconds:.2f} s = {seconds / floor_seconds:.2f} x floor")
    for day in days:
        files = _deliver(held, landing, day)
        log = folder / f"cdp-run-{day}.log"
        with IoPressure() as pressure:
            seconds, code, sampler = run_cdp(data, log)
        if code != 0:
            raise RuntimeError(f"cdp run failed on day {day} (exit {code}); see {log}")
        row = {
            "day": day,
            "files": files,
            "seconds": round(seconds, 2),
            "to_full_run": round(seconds / full_seconds, 4),
            "peak_rss_mb": sampler.peak_mb(),
            "stages": stage_split(data),
            "identity": identity_mode(data),
            "io_pressure": pressure.figures,
            "bytes": {
                "landing": sum(p.stat().st_size for p in landing.rglob(f"*_{day}.*") if p.is_file()),
                "warehouse": folder_bytes(warehouse.parent),
                "serving": folder_bytes(data.serving_dir),
            },
        }
        result["days"].append(row)
        echo(f"  {day}: {files} files, {seconds:.1f} s = {seconds / full_seconds:.1%} of the full run")
    incremental_ids = folder / "customer_ids_incremental.parquet"
    _customer_ids(warehouse, incremental_ids)
    incremental_accuracy = evaluate_warehouse(warehouse, truth / "identities.csv").model
    echo("increments: cdp run --full-identity (a full re-resolution of the same records)")
    with IoPressure() as pressure:
        seconds, code, _ = run_cdp(data, folder / "cdp-run-full-identity.log", "--full-identity")
    if code != 0:
        raise RuntimeError(f"cdp run --full-identity failed (exit {code})")
    full_ids = folder / "customer_ids_full.parquet"
    _customer_ids(warehouse, full_ids)
    full_accuracy = evaluate_warehouse(warehouse, truth / "identities.csv").model
    con = duckdb.connect(str(warehouse), read_only=True)
    records_after = con.execute("select count(*) from identity.records").fetchall()[0][0]
    con.close()
    times = [d["seconds"] for d in result["days"]]
    result.update(
        {
            # The median (of two days, their mean), not the upper middle.
            "median_day_seconds": round(statistics.median(times), 2) if times else None,
            "median_day_to_full_run": round(statistics.median(times) / full_seconds, 4) if times else None,
            "identity_records_after": records_after,
            "full_identity_run_seconds": round(seconds, 2),
            "full_identity_run_stages": stage_split(data),
            "full_identity_run_identity": identity_mode(data),
            "full_identity_run_io_pressure": pressure.figures,
            "incremental_vs_full": agreement(incremental_ids, full_ids),
            "pairwise_f1_vs_truth": {
                "incremental": round(incremental_accuracy.pairwise_f1, 4),
                "full": round(full_accuracy.pairwise_f1, 4),
            },
        }
    )
    return result
