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

Results go to ``bench.json`` in the folder, and optionally as a row of the results table in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.exports import ALL_TABLES
from orchestration.ingest.landing import landing_files
from orchestration.settings import DATA_DIR_ENV, REPO_ROOT, Settings, data_folder

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
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


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


def _stage_of(step_key: str) -> str:
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


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, from ``/proc``."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name (which may hold spaces, inside parentheses).
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):  # exited meanwhile
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
        todo.extend(children.get(pid, ()))
    return total


class RssSampler:
    """Samples a process tree's resident memory in a background thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), tree_rss_bytes(self.pid)))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self, spans: list[tuple[float, float]] | None = None) -> float | None:
        """Highest sample overall, or within ``spans``; a span shorter than the sampling interval
        gets the last sample taken before it ended."""
        if spans is None:
            values = [rss for _, rss in self.samples]
        else:
            values = [rss for at, rss in self.samples if any(s <= at <= e for s, e in spans)]
            for _, end in spans:
                values += [rss for at, rss in self.samples if at <= end][-1:]
        return round(max(values) / 2**20, 1) if values else None


def floor_scan(landing: Path, threads: int) -> dict:
    """One DuckDB pass over every landing file: every field of every record parsed, nothing kept.

    Each value is hashed so that DuckDB cannot skip parsing it (a bare ``count(*)`` over a CSV or
    NDJSON reader only has to find record boundaries, which is about half the work at 100k).
    """
    con = duckdb.connect(config={"threads": threads})
    rows = files = size = 0
    started = time.perf_counter()
    for spec in ALL_TABLES:
        paths = [str(p) for p in landing_files(landing, spec)]
        if not paths:
            continue
        files += len(paths)
        size += sum(Path(p).stat().st_size for p in paths)
        if spec.format.kind == "csv":
            # cp1252 parsed as latin-1: same bytes, one byte per character, same work.
            encoding = "latin-1" if spec.format.encoding == "cp1252" else "utf-8"
            source = (
                f"read_csv({paths}, delim='{spec.format.delimiter}', quote='\"', escape='\"', "
                f"header=true, all_varchar=true, encoding='{encoding}', strict_mode=false, "
                "null_padding=true)"
            )
        else:
            source = f"read_json({paths}, format='newline_delimited')"
        rows += con.execute(f"select count(*), max(hash(columns(*))) from {source}").fetchall()[0][0]
    seconds = time.perf_counter() - started
    con.close()
    return {"seconds": round(seconds, 3), "rows": rows, "files": files, "megabytes": round(size / 1e6, 1)}


def _run_pipeline(data: Settings, log: Path, *args: str) -> tuple[float, int, RssSampler]:
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


def _step_spans(data: Settings) -> tuple[dict[str, list[tuple[float, float]]], dict[str, float]]:
    """Per stage, the (start, end) of its steps in the latest run; and the identity sub-stages."""
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
            spans[_stage_of(entry.step_key)].append((starts[entry.step_key], entry.timestamp))
    materialization = instance.get_latest_materialization_event(
        dg.AssetKey(["identity", "customer_source_records"])
    )
    identity = {}
    if materialization and materialization.asset_materialization:
        identity = materialization.asset_materialization.metadata["stage_seconds"].value
    instance.dispose()
    return spans, identity


def _counts(data: Settings) -> dict[str, int]:
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


def _stages(
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


def bench(
    customers: int,
    folder: Path,
    *,
    seed: int = 42,
    reuse_data: bool = False,
    echo=print,
    realism: float = 1.0,
    increment_days: int = 0,
) -> dict:
    """Run the benchmark in ``folder`` (its warehouse, trained model, serving and instance are wiped first).

    ``realism`` is passed to the generator (0: data without the habits of real data in
    ``generate.noise.REALISM``), to measure identity accuracy with and without them.
    ``increment_days``: replay that many last days as daily deliveries after the full run
    (``increments``).
    """
    from orchestration.generate import generate
    from orchestration.identity import evaluate_warehouse

    data, truth = data_folder(folder / "data"), folder / "truth"
    landing = data.landing_dir
    commit = _commit()  # the code measured: read before the minutes the run takes
    generation = None
    if not (reuse_data and landing.exists() and any(landing.rglob("*.*"))):
        shutil.rmtree(landing, ignore_errors=True)
        shutil.rmtree(truth, ignore_errors=True)
        echo(f"generating {customers:,} customers (seed {seed}, realism {realism}) into {landing}")
        with RssSampler(os.getpid()) as sampler:
            stats = generate(
                landing, truth, customers=customers, seed=seed, realism=realism, daily_days=increment_days
            )
        generation = {
            "realism": realism,
            "seconds": round(stats.seconds, 2),
            "peak_rss_mb": sampler.peak_mb(),
            "rows": sum(stats.rows.values()),
            "identity_records": stats.identity_records,
        }
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
    held = folder / "held"
    days = _hold_daily_files(landing, held) if increment_days else []
    # A quiet day (few customers) has no file; a late event can make one after the end date.
    if increment_days and not days:
        raise RuntimeError(
            f"no daily files in {landing}: generate again without --reuse-data (the data needs --daily-days)"
        )
    threads = data.duckdb_threads
    echo("floor: one DuckDB scan of every landing file")
    floor = floor_scan(landing, threads)
    echo(
        f"  {floor['rows']:,} records, {floor['files']} files, {floor['megabytes']} MB: {floor['seconds']} s"
    )
    echo("pipeline: cdp run on a fresh warehouse")
    total, returncode, sampler = _run_pipeline(data, folder / "cdp-run.log")
    if returncode != 0:
        raise RuntimeError(f"cdp run failed (exit {returncode}); see {folder / 'cdp-run.log'}")
    spans, identity = _step_spans(data)
    counts = _counts(data)
    stages = _stages(spans, identity, counts, total, sampler)
    started = time.perf_counter()
    accuracy, baseline, _, _ = evaluate_warehouse(data.warehouse_path, truth / "identities.csv")
    identity_seconds = sum(s.seconds for s in stages if s.name in ("standardise", "link", "cluster"))
    result = {
        "customers": customers,
        "seed": seed,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * PAGE_SIZE / 2**30),
        },
        "duckdb_threads": threads,
        "generation": generation,
        "floor": floor,
        "pipeline": {"seconds": round(total, 2), "peak_rss_mb": sampler.peak_mb()},
        "total_to_floor": round(round(total, 2) / floor["seconds"], 1),
        "counts": counts,
        "stages": [asdict(s) for s in stages],
        "row_basis": ROW_BASIS,
        "identity": {
            "records_per_minute": round(counts["identity_records"] / identity_seconds * 60),
            "pairwise_precision": round(accuracy.pairwise_precision, 4),
            "pairwise_recall": round(accuracy.pairwise_recall, 4),
            "pairwise_f1": round(accuracy.pairwise_f1, 4),
            "baseline_f1": round(baseline.pairwise_f1, 4),
            "evaluation_seconds": round(time.perf_counter() - started, 1),
        },
    }
    if increment_days:
        result["increments"] = increments(
            data, truth, held, days[-increment_days:], folder, total, floor["seconds"], echo
        )
    (folder / "bench.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


DAILY = re.compile(r"_(\d{4}-\d{2}-\d{2})\.[^/]+$")


def _hold_daily_files(landing: Path, held: Path) -> list[str]:
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


def _stage_split(data: Settings) -> dict[str, float]:
    """Seconds per stage of the latest run, from its event log."""
    spans, _ = _step_spans(data)
    return {name: round(sum(e - s for s, e in spans.get(name, [])), 2) for name in sorted(spans)}


def _identity_mode(data: Settings) -> str | None:
    """How the latest identity run resolved ("incremental: …" or "full: …"), from its metadata."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(data.dagster_home))
    try:
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["identity", "customer_source_records"])
        )
        metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
        return metadata["mode_reason"].value if "mode_reason" in metadata else None
    finally:
        instance.dispose()


def _customer_ids(warehouse: Path, out: Path) -> None:
    """Keep the current ``unique_id → customer_id`` as a Parquet file (compared after the full run)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    ids = "select unique_id, customer_id from identity.customer_source_records"
    con.execute(f"copy ({ids}) to '{out}' (format parquet)")
    con.close()


def agreement(incremental: Path, full: Path) -> dict:
    """Pairwise precision, recall and F1 of the incremental customer ids taking the full
    re-resolution's as the truth (``evaluate.score``)."""
    from orchestration.identity import score

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
    from orchestration.identity import evaluate_warehouse

    warehouse = data.warehouse_path
    landing = data.landing_dir
    echo("increments: cdp run with nothing new")
    seconds, code, _ = _run_pipeline(data, folder / "cdp-run-nothing-new.log")
    if code != 0:
        raise RuntimeError(f"cdp run failed (exit {code}); see {folder / 'cdp-run-nothing-new.log'}")
    result: dict = {
        "nothing_new": {
            "seconds": round(seconds, 2),
            "to_floor": round(seconds / floor_seconds, 2),
            "to_full_run": round(seconds / full_seconds, 4),
            "output": (folder / "cdp-run-nothing-new.log").read_text(encoding="utf-8").strip()[:300],
        },
        "days": [],
    }
    echo(f"  {seconds:.2f} s = {seconds / floor_seconds:.2f} x floor")
    for day in days:
        files = _deliver(held, landing, day)
        log = folder / f"cdp-run-{day}.log"
        seconds, code, sampler = _run_pipeline(data, log)
        if code != 0:
            raise RuntimeError(f"cdp run failed on day {day} (exit {code}); see {log}")
        row = {
            "day": day,
            "files": files,
            "seconds": round(seconds, 2),
            "to_full_run": round(seconds / full_seconds, 4),
            "peak_rss_mb": sampler.peak_mb(),
            "stages": _stage_split(data),
            "identity": _identity_mode(data),
        }
        result["days"].append(row)
        echo(f"  {day}: {files} files, {seconds:.1f} s = {seconds / full_seconds:.1%} of the full run")
    incremental_ids = folder / "customer_ids_incremental.parquet"
    _customer_ids(warehouse, incremental_ids)
    incremental_accuracy, _, _, _ = evaluate_warehouse(warehouse, truth / "identities.csv")
    echo("increments: cdp run --full-identity (a full re-resolution of the same records)")
    seconds, code, _ = _run_pipeline(data, folder / "cdp-run-full-identity.log", "--full-identity")
    if code != 0:
        raise RuntimeError(f"cdp run --full-identity failed (exit {code})")
    full_ids = folder / "customer_ids_full.parquet"
    _customer_ids(warehouse, full_ids)
    full_accuracy, _, _, _ = evaluate_warehouse(warehouse, truth / "identities.csv")
    con = duckdb.connect(str(warehouse), read_only=True)
    records_after = con.execute("select count(*) from identity.records").fetchall()[0][0]
    con.close()
    times = [d["seconds"] for d in result["days"]]
    result.update(
        {
            "median_day_seconds": round(sorted(times)[len(times) // 2], 2) if times else None,
            "median_day_to_full_run": round(sorted(times)[len(times) // 2] / full_seconds, 4)
            if times
            else None,
            "identity_records_after": records_after,
            "full_identity_run_seconds": round(seconds, 2),
            "full_identity_run_stages": _stage_split(data),
            "full_identity_run_identity": _identity_mode(data),
            "incremental_vs_full": agreement(incremental_ids, full_ids),
            "pairwise_f1_vs_truth": {
                "incremental": round(incremental_accuracy.pairwise_f1, 4),
                "full": round(full_accuracy.pairwise_f1, 4),
            },
        }
    )
    return result


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def summary(result: dict) -> str:
    """The result as a terminal table."""
    lines = [f"{'stage':<12}{'seconds':>9}{'rows':>14}{'rows/s':>12}{'peak RSS MB':>13}"]
    for s in result["stages"]:
        lines.append(
            f"{s['name']:<12}{s['seconds']:>9.1f}{s['rows'] or '':>14}{s['rows_per_second'] or '':>12}"
            f"{s['peak_rss_mb'] or '':>13}"
        )
    pipeline, floor, identity = result["pipeline"], result["floor"], result["identity"]
    generation = result["generation"]
    lines += [
        "",
        f"generation   {generation['seconds'] if generation else 'reused'} s",
        f"floor        {floor['seconds']} s ({floor['rows']:,} records, {floor['megabytes']} MB)",
        f"pipeline     {pipeline['seconds']} s = {result['total_to_floor']} x floor, "
        f"peak RSS {pipeline['peak_rss_mb']} MB",
        f"identity     {identity['records_per_minute']:,} records/min, pairwise F1 {identity['pairwise_f1']} "
        f"(baseline {identity['baseline_f1']})",
    ]
    inc = result.get("increments")
    if inc:
        nothing = inc["nothing_new"]
        agree = inc["incremental_vs_full"]
        lines += [
            f"nothing new  {nothing['seconds']} s = {nothing['to_floor']} x floor",
            f"daily runs   {len(inc['days'])} days, median {inc['median_day_seconds']} s = "
            f"{inc['median_day_to_full_run']:.1%} of the full run",
            f"identity     incremental vs full re-resolution: pairwise F1 {agree['pairwise_f1']} "
            f"(P {agree['pairwise_precision']}, R {agree['pairwise_recall']}); vs truth: incremental "
            f"{inc['pairwise_f1_vs_truth']['incremental']}, full {inc['pairwise_f1_vs_truth']['full']}",
        ]
    return "\n".join(lines)


def readme_row(result: dict) -> str:
    """One row of the results table in docs/benchmarks.md (columns named in the table's header)."""
    generation, counts = result["generation"], result["counts"]
    stage = {s["name"]: s["seconds"] for s in result["stages"]}
    split = " / ".join(
        f"{v:.0f}"
        for v in (
            stage["ingest"],
            # A fresh warehouse trains its model on the first run: counted with identity.
            stage["standardise"] + stage.get("train", 0.0) + stage["link"] + stage["cluster"],
            stage["dbt"],
            stage["checks"],
            stage["publish"] + stage["docs"] + stage["report"],
            stage["other"],
        )
    )
    cells = [
        result["measured_at"][:10],
        f"{result['customers']:,}",
        f"{counts['identity_records']:,}",
        f"{result['floor']['rows']:,}",
        f"{generation['seconds']:.0f} s" if generation else "reused",
        f"{result['floor']['seconds']:.1f} s",
        f"{result['pipeline']['seconds']:.0f} s",
        f"{result['total_to_floor']}",
        f"{result['pipeline']['peak_rss_mb'] / 1024:.1f} GiB",
        split,
        f"{result['identity']['records_per_minute']:,}",
        f"{result['identity']['pairwise_f1']}",
        result["commit"] or "",
    ]
    return "| " + " | ".join(cells) + " |"


def append_to_readme(result: dict, readme: Path) -> None:
    """Add the result as the last row of the table between the bench markers."""
    text = readme.read_text(encoding="utf-8")
    if README_END not in text:
        raise ValueError(f"{readme} has no {README_END} marker: nowhere to add the row")
    head, tail = text.split(README_END, 1)
    readme.write_text(
        head.rstrip("\n") + "\n" + readme_row(result) + "\n" + README_END + tail, encoding="utf-8"
    )
