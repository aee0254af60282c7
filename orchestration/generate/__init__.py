"""Sample data: a realistic French kitchenware retailer's exports, with ground truth.

``generate`` writes, for a population of persons, the files each source system would export
(see ``orchestration.exports`` for the formats) under ``landing/<source>/``, and what really
happened under ``truth/``: ``identities.csv`` (which person each identity-bearing record belongs
to), ``persons.csv`` and ``journeys.csv`` (every interaction, for checking KPIs), and
``as_of.txt`` (the instant the exports were taken, which ``make run`` judges freshness at).

The population is cut into shards of ``SHARD_PERSONS`` persons, each simulated with its own
random stream (derived from the seed and the shard number) into a scratch folder, in parallel
processes when there are several; the shards' files are then concatenated in shard order. The
shard size is fixed, so the output depends on the seed and options only, never on the number of
CPUs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from orchestration.generate.noise import Messiness
from orchestration.generate.simulate import (
    DEFAULT_END_DATE,
    DEFAULT_LIFECYCLE,
    FIXED_POPULATION,
    GenerationStats,
    Lifecycle,
    Simulation,
)

SHARD_PERSONS = 25_000


@dataclass(frozen=True)
class _Shard:
    index: int
    shards: int
    first_person: int
    persons: int
    folder: Path
    seed: int
    days: int
    end_date: date
    messiness: Messiness
    lifecycle: Lifecycle
    daily_days: int = 0
    gzip: bool = False


def _run_shard(shard: _Shard) -> GenerationStats:
    simulation = Simulation(
        shard.folder / "landing",
        shard.folder / "truth",
        seed=shard.seed,
        days=shard.days,
        end_date=shard.end_date,
        messiness=shard.messiness,
        shard=shard.index,
        shards=shard.shards,
        first_person=shard.first_person,
        lifecycle=shard.lifecycle,
        daily_days=shard.daily_days,
        gzip=shard.gzip,
    )
    return simulation.run(shard.persons)


def _skip_gzip_member(src) -> bytes:
    """Read past the first gzip member of ``src`` (a compressed CSV's header line, which
    ``ExportWriter`` writes as a member of its own); return the bytes read beyond it."""
    member = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer around the deflate stream
    while not member.eof:
        chunk = src.read(64 * 1024)
        if not chunk:
            raise ValueError(f"{src.name}: ends inside its first gzip member")
        member.decompress(chunk)
    return member.unused_data


def _concatenate(parts: list[Path], target: Path) -> None:
    """Join shard files: the first whole, the others without their header line (CSV only).

    Gzip files are joined as they are, member after member (a valid gzip file), without
    decompressing the rows: a compressed CSV's header line is its first member.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    compressed = target.suffix == ".gz"
    has_header = Path(target.name.removesuffix(".gz")).suffix == ".csv"
    with target.open("wb") as out:
        for i, part in enumerate(parts):
            with part.open("rb") as src:
                if i > 0 and has_header:
                    if compressed:
                        out.write(_skip_gzip_member(src))
                    else:
                        src.readline()
                shutil.copyfileobj(src, out, 16 * 1024 * 1024)


def _merge(shard_folders: list[Path], sub: str, target_root: Path) -> None:
    names = sorted(
        {p.relative_to(f / sub) for f in shard_folders for p in (f / sub).rglob("*") if p.is_file()}
    )
    for name in names:
        parts = [f / sub / name for f in shard_folders if (f / sub / name).exists()]
        _concatenate(parts, target_root / name)


AS_OF_FILE = "as_of.txt"


def sample_as_of(end_date: date) -> str:
    """When exports ending on ``end_date`` were taken (ISO 8601, UTC): the next midnight."""
    return (end_date + timedelta(days=1)).isoformat() + "T00:00:00Z"


def generate(
    landing_dir: Path,
    truth_dir: Path,
    customers: int,
    seed: int = 42,
    days: int = 365,
    end_date: date = DEFAULT_END_DATE,
    messiness: float = 1.0,
    progress: bool = False,
    workers: int | None = None,
    realism: float = 1.0,
    lifecycle: Lifecycle = DEFAULT_LIFECYCLE,
    daily_days: int = 0,
    gzip: bool = False,
) -> GenerationStats:
    """Generate ``customers`` persons' exports; deterministic for the same arguments.

    ``realism`` scales the habits of real data listed in ``noise.REALISM`` (several web accounts
    per person, express checkouts, birth-date typos, phone-only accounts, more first-name
    variants); 0 writes exactly what the generator wrote before they were added. ``lifecycle``
    says how much history precedes the period and how fast customers lapse and arrive
    (``Lifecycle``); ``FIXED_POPULATION`` is the population of the generator before issue 17.
    ``daily_days`` writes the last days of the period one file per day (daily deliveries) instead
    of into the month's file; the records are the same. ``gzip`` writes every landing file
    gzip-compressed (``contacts_2026-10.csv.gz``; the truth stays plain), with the same bytes
    inside: the exports of a large population without gigabytes of plain text on the disk.
    """
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be at least 1")
    started = time.perf_counter()
    rates = Messiness().scaled(messiness, realism)
    landing_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".cdp-generate-", dir=landing_dir.parent) as scratch:
        starts = range(0, customers, SHARD_PERSONS)
        shards = [
            _Shard(
                i,
                len(starts),
                first,
                min(SHARD_PERSONS, customers - first),
                Path(scratch) / f"{i:05d}",
                seed,
                days,
                end_date,
                rates,
                lifecycle,
                daily_days,
                gzip,
            )
            for i, first in enumerate(starts)
        ]
        workers = min(workers or os.cpu_count() or 1, len(shards))
        results: dict[int, GenerationStats] = {}
        if workers == 1:
            for shard in shards:
                results[shard.index] = _run_shard(shard)
                _report(progress, results, customers, started)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(_run_shard, shard): shard for shard in shards}
                for future in as_completed(futures):
                    shard = futures[future]
                    results[shard.index] = future.result()
                    _report(progress, results, customers, started)
        folders = [s.folder for s in shards]
        _merge(folders, "landing", landing_dir)
        _merge(folders, "truth", truth_dir)
    # The instant the sample's exports were "taken": the day after the last simulated day, at
    # midnight UTC. `make run` judges the freshness checks as of it (CDP_QUALITY_AS_OF): sample
    # data is not stale because it was generated weeks before the run.
    (truth_dir / AS_OF_FILE).write_text(sample_as_of(end_date) + "\n", encoding="utf-8")
    total = GenerationStats(seconds=time.perf_counter() - started)
    for stats in results.values():
        total.persons += stats.persons
        total.households += stats.households
        total.identity_records += stats.identity_records
        total.journey_events += stats.journey_events
        for table, rows in stats.rows.items():
            total.rows[table] = total.rows.get(table, 0) + rows
    return total


def _report(progress: bool, results: dict[int, GenerationStats], customers: int, started: float) -> None:
    if progress:
        done = sum(r.persons for r in results.values())
        print(f"  generated {done:,} / {customers:,} persons ({time.perf_counter() - started:.0f} s)")


__all__ = [
    "DEFAULT_END_DATE",
    "FIXED_POPULATION",
    "SHARD_PERSONS",
    "GenerationStats",
    "Lifecycle",
    "Messiness",
    "generate",
]
