"""Incremental identity after daily deliveries, against a full re-resolution of the same records.

``python -m orchestration.benchmarks.identity_increments --customers 10000 --days 30 --dir /tmp/inc``

In a folder of its own (``<dir>/generated`` the exports and their truth, ``<dir>/data`` the run's
warehouse and landing folder):

1. generates ``customers`` persons with the last ``days`` days written one file per day
   (``generate(..., daily_days=days)``, e.g. ``pos/tickets_2026-10-05.csv``), the rest by month;
   an existing ``<dir>/generated`` of the same arguments is reused;
2. lands and loads the history (every file but the daily ones) with the raw layer's loader
   (``load_table``, what the raw assets run), and resolves it in full: the first run trains the
   model on these records, as ``cdp run`` does on a fresh warehouse;
3. lands one day at a time, loads it and runs ``resolve`` (incremental when it can) then stable ids
   and the run record, as the identity asset does; each day's load and identity seconds are timed;
4. resolves the same records in full (``full=True``, the trained model), timed;
5. scores the incremental customers against the full ones (pairwise precision, recall, F1, as
   ``cdp identity eval`` does, with the full clustering as the truth), and both against the
   generator's truth.

Prints a summary and writes ``<dir>/identity_increments.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import time
from pathlib import Path

import duckdb

from orchestration.exports import ALL_TABLES
from orchestration.generate import generate
from orchestration.identity import (
    ResolutionConfig,
    ResolutionResult,
    assign_stable_ids,
    load_truth,
    record_resolution_run,
    resolve,
    score,
)
from orchestration.ingest.loader import load_table
from orchestration.settings import get_settings

DAILY_FILE = re.compile(r"_(\d{4}-\d{2}-\d{2})\.[a-z]+(\.gz)?$")


def split_daily(landing: Path) -> tuple[list[Path], dict[str, list[Path]]]:
    """The history files, and the daily files by day (ISO date), relative to ``landing``."""
    history, days = [], {}
    for path in sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file()):
        day = DAILY_FILE.search(path.name)
        if day:
            days.setdefault(day.group(1), []).append(path)
        else:
            history.append(path)
    return history, dict(sorted(days.items()))


def _land(source: Path, landing: Path, files: list[Path]) -> None:
    for rel in files:
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / rel, landing / rel)


def _load(con: duckdb.DuckDBPyConnection, landing: Path, quarantine: Path) -> float:
    started = time.perf_counter()
    for spec in ALL_TABLES:
        load_table(con, spec, landing, quarantine, log=lambda _: None)
    return time.perf_counter() - started


def _identity(con: duckdb.DuckDBPyConnection, config: ResolutionConfig, run_id: str, full: bool = False):
    """One identity step as the asset runs it: resolve, stable ids, run record; wall seconds, and
    the CPU seconds of this process (all threads): on a machine shared with other work, wall time
    varies with their load; CPU time much less."""
    started, cpu = time.perf_counter(), time.process_time()
    result = resolve(con, config, log=lambda _: None, full=full)
    resolved = time.perf_counter()
    ids = assign_stable_ids(con, run_id)
    record_resolution_run(con, run_id)
    ids["seconds"] = time.perf_counter() - resolved
    return result, ids, (time.perf_counter() - started, time.process_time() - cpu)


def _steps(summary: dict) -> str:
    """Wall seconds per step of ``resolve``, then stable ids and the run record, in order."""
    steps = {**summary["steps"], "stable ids + run record": summary["ids_seconds"]}
    return ", ".join(f"{k} {v:.2f}" for k, v in steps.items())


def _summary(result: ResolutionResult, ids: dict, timing: tuple[float, float]) -> dict[str, object]:
    seconds, cpu = timing
    return {
        "mode": result.mode,
        "reason": result.mode_reason,
        "records": result.records,
        "changed_records": result.changed_records,
        "pairs_scored_this_run": result.pairs_scored_this_run,
        "scored_pairs": result.scored_pairs,
        "identity_seconds": round(seconds, 2),
        "identity_cpu_seconds": round(cpu, 2),
        "stages": {k: round(v, 2) for k, v in result.seconds.items()},
        "steps": {k: round(v, 2) for k, v in result.steps.items()},
        "clustered_records": result.clustered_records,
        "score_seconds": round(result.score_seconds, 2),
        "ids": {k: v for k, v in ids.items() if k != "seconds"},
        "ids_seconds": round(ids["seconds"], 2),
    }


def run(customers: int, days: int, folder: Path, seed: int = 42) -> dict[str, object]:
    generated = folder / "generated"
    marker = generated / "arguments.json"
    arguments = {"customers": customers, "days": days, "seed": seed}
    if not marker.exists() or json.loads(marker.read_text()) != arguments:
        shutil.rmtree(generated, ignore_errors=True)
        started = time.perf_counter()
        generate(generated / "landing", generated / "truth", customers=customers, seed=seed, daily_days=days)
        print(f"generated {customers:,} customers in {time.perf_counter() - started:.1f} s")
        marker.write_text(json.dumps(arguments))
    history, daily = split_daily(generated / "landing")
    data = folder / "data"
    shutil.rmtree(data, ignore_errors=True)
    landing, quarantine = data / "landing", data / "quarantine"
    landing.mkdir(parents=True)
    config = ResolutionConfig(trained_model=data / "identity" / "model.json")
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    con.execute(f"set threads = {get_settings().duckdb_threads}")

    _land(generated / "landing", landing, history)
    load_seconds = _load(con, landing, quarantine)
    first, ids, timing = _identity(con, config, "history")
    initial = {"load_seconds": round(load_seconds, 2), **_summary(first, ids, timing)}
    print(f"history: {first.records:,} records, {timing[0]:.1f} s ({first.mode_reason}; {initial['stages']})")

    increments = []
    for n, (day, files) in enumerate(daily.items(), start=1):
        _land(generated / "landing", landing, files)
        load_seconds = _load(con, landing, quarantine)
        result, ids, timing = _identity(con, config, f"day-{day}")
        increments.append(
            {"day": day, "load_seconds": round(load_seconds, 2), **_summary(result, ids, timing)}
        )
        pairs = result.pairs_scored_this_run
        print(
            f"day {n:2d} {day}: {timing[0]:5.2f} s, CPU {timing[1]:5.2f} s; {result.mode_reason}; "
            f"{pairs:,} pairs; {result.clustered_records:,} records clustered again\n"
            f"        steps (wall s): {_steps(increments[-1])}"
        )

    con.execute(
        """
        create or replace temp table incremental_clusters as
        select unique_id, customer_id as cluster_id from identity.customer_source_records;
        create or replace temp table incremental_pairs as
        select unique_id_l, unique_id_r, match_weight from identity.scored_edges;
        """
    )
    result, ids, timing = _identity(con, config, "full-after-increments", full=True)
    full = _summary(result, ids, timing)
    print(
        f"full re-resolution: {timing[0]:.1f} s, CPU {timing[1]:.1f} s ({result.mode_reason})\n"
        f"        steps (wall s): {_steps(full)}"
    )
    con.execute(
        "create or replace temp table full_clusters as "
        "select unique_id, customer_id as cluster_id from identity.customer_source_records"
    )
    con.execute(
        "create or replace temp table _truth as select unique_id, cluster_id as person_id from full_clusters"
    )
    agreement = score(con, "incremental_clusters").as_dict()
    # The same as counts of record pairs (F1 is rounded): together in one run's customers only.
    together_incremental_only, together_full_only = con.execute(
        """
        with cells as (
            select count(*) as n from incremental_clusters i join full_clusters f using (unique_id)
            group by i.cluster_id, f.cluster_id
        ),
        pairs as (
            select (select sum(n * (n - 1) / 2) from (select count(*) as n from incremental_clusters
                                                       group by cluster_id)) as in_incremental,
                   (select sum(n * (n - 1) / 2) from (select count(*) as n from full_clusters
                                                       group by cluster_id)) as in_full,
                   (select sum(n * (n - 1) / 2) from cells) as in_both
        )
        select in_incremental - in_both, in_full - in_both from pairs
        """
    ).fetchall()[0]
    agreement["record_pairs_together_only_incremental"] = int(together_incremental_only)
    agreement["record_pairs_together_only_full"] = int(together_full_only)
    # Scored pairs (match probability >= 0.5) of one and not the other, and how far the weights of
    # the pairs both hold differ (the full run re-estimated the prior; term frequencies moved).
    only_incremental, only_full, both, weight_gap = con.execute(
        """
        select count(*) filter (where f.unique_id_l is null), count(*) filter (where i.unique_id_l is null),
               count(*) filter (where i.unique_id_l is not null and f.unique_id_l is not null),
               max(abs(i.match_weight - f.match_weight))
        from incremental_pairs i
        full join identity.scored_edges f using (unique_id_l, unique_id_r)
        """
    ).fetchall()[0]
    pairs = {
        "both": both,
        "only_incremental": only_incremental,
        "only_full": only_full,
        "max_weight_difference": weight_gap,
    }
    load_truth(con, generated / "truth" / "identities.csv")
    truth = {
        "incremental": score(con, "incremental_clusters").as_dict(),
        "full": score(con, "full_clusters").as_dict(),
    }
    con.close()
    day_seconds = [d["identity_seconds"] for d in increments]
    day_cpu = [d["identity_cpu_seconds"] for d in increments]
    report = {
        "arguments": arguments,
        "history": initial,
        "increments": increments,
        "full_after_increments": full,
        "incremental_vs_full": agreement,
        "scored_pairs_incremental_vs_full": pairs,
        "vs_truth": truth,
        "median_day_seconds": round(statistics.median(day_seconds), 2) if day_seconds else None,
        "median_day_over_full": round(statistics.median(day_seconds) / timing[0], 3) if day_seconds else None,
        "median_day_cpu_seconds": round(statistics.median(day_cpu), 2) if day_cpu else None,
        "median_day_cpu_over_full": round(statistics.median(day_cpu) / timing[1], 3) if day_cpu else None,
    }
    (folder / "identity_increments.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--dir", type=Path, default=None, help="working folder (default: /tmp/cdp-increments-N)"
    )
    args = parser.parse_args()
    folder = (args.dir or Path(f"/tmp/cdp-increments-{args.customers}")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    report = run(args.customers, args.days, folder, args.seed)
    a, t = report["incremental_vs_full"], report["vs_truth"]
    full = report["full_after_increments"]["identity_seconds"]
    full_cpu = report["full_after_increments"]["identity_cpu_seconds"]
    print(
        f"\nincremental vs full after {len(report['increments'])} increments: pairwise F1 "
        f"{a['pairwise_f1']:.5f} (precision {a['pairwise_precision']:.5f}, "
        f"recall {a['pairwise_recall']:.5f}; record pairs together only in the incremental "
        f"{a['record_pairs_together_only_incremental']:,}, only in the full "
        f"{a['record_pairs_together_only_full']:,})\n"
        f"vs truth: incremental F1 {t['incremental']['pairwise_f1']:.5f}, "
        f"full F1 {t['full']['pairwise_f1']:.5f}\n"
        f"scored pairs: {report['scored_pairs_incremental_vs_full']}\n"
        f"a day's identity step: median {report['median_day_seconds']} s = "
        f"{report['median_day_over_full']:.1%} of the full re-resolution ({full} s); CPU: median "
        f"{report['median_day_cpu_seconds']} s = {report['median_day_cpu_over_full']:.1%} "
        f"of the full ({full_cpu} s)"
    )


if __name__ == "__main__":
    main()
