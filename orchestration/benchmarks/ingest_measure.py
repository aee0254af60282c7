"""Ingest against the floor: how many times one DuckDB parse of every landing file loading costs.

``python -m orchestration.benchmarks.ingest_measure --data DIR [--repeat N] [--phases]``, with data generated
by ``cdp generate --out DIR/landing``. Each round measures, in the same process and one after the
other (the machine is shared, so only the ratio of the two is comparable between rounds):

- the **floor**, exactly as ``cdp bench`` computes it (``orchestration.benchmarks.floor.floor_scan``);
- **ingest**: every export table loaded into a fresh warehouse by ``load_table`` on a connection
  configured as the raw assets' (``WarehouseResource``: threads, memory limit, UTC), one
  connection per table as one Dagster step per table opens, files settled immediately.

``--phases`` adds the seconds spent per loader phase and per table (it wraps the ingest
functions named in ``PHASES``, so it costs a little itself; the fingerprint of the next file runs
in a thread while the current one loads, so its seconds overlap the others). The process's peak
resident memory is printed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from orchestration.benchmarks.floor import floor_scan
from orchestration.defs.resources import WarehouseResource
from orchestration.exports import effective_tables
from orchestration.ingest import files, formats, loader
from orchestration.settings import get_settings

# Ingest functions timed with --phases, by the module that defines them. Nested: ``_read_lines``
# runs inside the stages (exact path) and for quoting quarantined lines.
PHASES: dict[tuple[ModuleType, str], str] = {
    (files, "fingerprint"): "fingerprint (hash, decode, copy)",
    (formats, "write_csv"): "CSV: parse, type, write",
    (formats, "write_ndjson"): "NDJSON: keys, parse, type, write",
    (formats, "_split_records"): "  of which exact path: split, group",
    (formats, "_read_lines"): "  lines read (nested)",
    (loader, "_load_records"): "load (all but fingerprint)",
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


@contextmanager
def _phases_timed(seconds: dict[str, float]) -> Iterator[None]:
    """Wrap each function of ``PHASES`` wherever the ingest modules look it up: in the module that
    defines it and in every one that imported it by name (the loader calls ``write_csv`` through
    its own name for it). A phase whose function no longer exists is an error, not a phase left
    untimed."""
    modules = [m for name, m in sorted(sys.modules.items()) if name.startswith("orchestration.ingest.")]
    patched: list[tuple[ModuleType, str, Callable]] = []
    try:
        for (module, name), label in PHASES.items():
            fn = getattr(module, name, None)
            if not callable(fn):
                raise AttributeError(f"--phases: {module.__name__}.{name} no longer exists: update PHASES")
            wrapper = _timed(seconds, label, fn)
            for holder in modules:
                for attr, value in list(vars(holder).items()):
                    if value is fn:
                        patched.append((holder, attr, fn))
                        setattr(holder, attr, wrapper)
        yield
    finally:
        for holder, attr, fn in reversed(patched):
            setattr(holder, attr, fn)


def load_all(data_dir: Path, phases: dict[str, float] | None = None) -> dict[str, float]:
    """Load every export table of ``data_dir/landing`` into a fresh warehouse; seconds per table."""
    settings = get_settings()
    landing = settings.in_folder(data_dir).landing_dir
    work = Path(tempfile.mkdtemp(prefix="cdp-ingest-", dir=data_dir))
    warehouse = WarehouseResource(
        database=str(work / "cdp.duckdb"),
        connection_config={"threads": settings.duckdb_threads, "memory_limit": settings.duckdb_memory_limit},
    )
    per_table: dict[str, float] = {}
    try:
        with _phases_timed(phases) if phases is not None else contextlib.nullcontext():
            for spec in effective_tables(data_dir):
                started = time.perf_counter()
                with warehouse.get_connection() as con:
                    result = loader.load_table(con, spec, landing, work / "quarantine", log=lambda _: None)
                per_table[spec.table] = time.perf_counter() - started
                bad = [f.error for f in result.files if f.status == "quarantined"]
                if bad:
                    raise RuntimeError(f"{spec.table}: files quarantined: {bad}")
    finally:
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
