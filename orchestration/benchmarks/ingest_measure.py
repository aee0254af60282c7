"""Ingest against the floor: how many times one DuckDB parse of every landing file loading costs.

``python -m orchestration.benchmarks.ingest_measure --data DIR [--repeat N] [--phases]``, with data generated
by ``cdp generate --out DIR/landing``. Each round measures, in the same process and one after the
other (the machine is shared, so only the ratio of the two is comparable between rounds):

- the **floor**, exactly as ``cdp bench`` computes it (``orchestration.benchmarks.bench.floor_scan``);
- **ingest**: every export table loaded into a fresh warehouse by ``load_table`` on a connection
  configured as the raw assets' (``WarehouseResource``: threads, memory limit, UTC), one
  connection per table as one Dagster step per table opens, files settled immediately.

``--phases`` adds the seconds spent per loader phase and per table (it wraps the loader's
functions, so it costs a little itself; the fingerprint of the next file runs in a thread while
the current one loads, so its seconds overlap the others). The process's peak resident memory
is printed at the end.
"""

from __future__ import annotations

import argparse
import functools
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from orchestration.benchmarks.bench import floor_scan
from orchestration.exports import effective_tables
from orchestration.ingest import loader
from orchestration.settings import get_settings

# Loader functions timed with --phases. Nested: ``_read_lines`` runs inside the stages (exact
# path) and for quoting quarantined lines.
PHASES = {
    "fingerprint": "fingerprint (hash, decode, copy)",
    "_write_csv": "CSV: parse, type, write",
    "_write_ndjson": "NDJSON: keys, parse, type, write",
    "_split_records": "  of which exact path: split, group",
    "_read_lines": "  lines read (nested)",
    "_load_records": "load (all but fingerprint)",
}


def _timed(seconds: dict[str, float], name: str, fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[name] += time.perf_counter() - started

    return wrapper


def load_all(data_dir: Path, phases: dict[str, float] | None = None) -> dict[str, float]:
    """Load every export table of ``data_dir/landing`` into a fresh warehouse; seconds per table."""
    from orchestration.defs.resources import WarehouseResource

    settings = get_settings()
    landing = settings.in_folder(data_dir).landing_dir
    work = Path(tempfile.mkdtemp(prefix="cdp-ingest-", dir=data_dir))
    warehouse = WarehouseResource(
        database=str(work / "cdp.duckdb"),
        connection_config={"threads": settings.duckdb_threads, "memory_limit": settings.duckdb_memory_limit},
    )
    originals = {name: getattr(loader, name) for name in PHASES if hasattr(loader, name)}
    if phases is not None:
        for name, fn in originals.items():
            setattr(loader, name, _timed(phases, PHASES[name], fn))
    per_table: dict[str, float] = {}
    try:
        for spec in effective_tables(data_dir):
            started = time.perf_counter()
            with warehouse.get_connection() as con:
                result = loader.load_table(con, spec, landing, work / "quarantine", log=lambda _: None)
            per_table[spec.table] = time.perf_counter() - started
            bad = [f.error for f in result.files if f.status == "quarantined"]
            if bad:
                raise RuntimeError(f"{spec.table}: files quarantined: {bad}")
    finally:
        for name, fn in originals.items():
            setattr(loader, name, fn)
        shutil.rmtree(work, ignore_errors=True)
    return per_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder holding landing/")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--phases", action="store_true", help="seconds per loader phase and table")
    args = parser.parse_args(argv)
    settings = get_settings()
    ratios = []
    for round_no in range(1, args.repeat + 1):
        floor = floor_scan(settings.in_folder(args.data).landing_dir, settings.duckdb_threads)
        phases: dict[str, float] = defaultdict(float)
        per_table = load_all(args.data, phases if args.phases else None)
        ingest = sum(per_table.values())
        ratios.append(ingest / floor["seconds"])
        print(
            f"round {round_no}: floor {floor['seconds']:.2f} s ({floor['rows']:,} records, "
            f"{floor['megabytes']} MB), ingest {ingest:.2f} s, ingest / floor {ratios[-1]:.1f}"
        )
        for table, seconds in sorted(per_table.items(), key=lambda kv: -kv[1]):
            print(f"    {table:<24} {seconds:7.2f} s")
        for phase, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
            print(f"    phase {phase:<34} {seconds:7.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"ingest / floor: {', '.join(f'{r:.1f}' for r in ratios)}; peak RSS {peak:.2f} GiB")


if __name__ == "__main__":
    main()
