"""A day's dbt build, timed on a copy of a benchmark's warehouse (dbt only: no ingestion, identity,
checks or publication).

    python -m orchestration.benchmarks.dbt_day --warehouse <bench>/data/warehouse/cdp.duckdb \\
        --dir /tmp/dbt-day [--since 2026-12-07T14:30:00+00:00]

Why a script of its own: at 1,000,000 customers a whole ``cdp bench`` takes more than an hour,
while comparing two versions of the dbt project needs only the day's build. The warehouse is
copied (the benchmark's is left as it is); the raw rows loaded at or after ``--since`` (default:
the latest load of web events) are held back; ``dbt build --full-refresh`` makes the state before
the day; the rows are put back and the day is built as the pipeline builds it (the seeds' own tests
left out). Identity is as the copied warehouse has it. Run it from each checkout to compare, one
after the other on a quiet machine: a shared machine measures the load, not the change.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import duckdb

from orchestration.lib.dbt import dbt_executable
from orchestration.lib.dbt_project import DBT_PROJECT_DIR


def _hold_back(warehouse: Path, since: str | None) -> tuple[str, int, list[str]]:
    """Move the raw rows loaded at or after ``since`` to schema ``held_raw``: (since, rows, tables)."""
    with duckdb.connect(str(warehouse)) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.columns "
                "where table_schema = 'raw' and column_name = '_loaded_at' order by 1"
            ).fetchall()
        ]
        if since is None:
            since = str(con.execute("select max(_loaded_at) from raw.ecommerce_web_events").fetchall()[0][0])
        con.execute("create schema if not exists held_raw")
        held = 0
        for name in tables:
            where = f"_loaded_at >= '{since}'::timestamptz"
            con.execute(f"create or replace table held_raw.{name} as select * from raw.{name} where {where}")
            held += con.execute(f"select count(*) from held_raw.{name}").fetchall()[0][0]
            con.execute(f"delete from raw.{name} where {where}")
    return since, held, tables


def _put_back(warehouse: Path, tables: list[str]) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for name in tables:
            con.execute(f"insert into raw.{name} by name select * from held_raw.{name}")
        con.execute("drop schema held_raw cascade")


def _build(work: Path, label: str, *args: str) -> dict:
    """One ``dbt build`` on ``work``'s warehouse: wall seconds and thread seconds by node kind."""
    target = work / f"target-{label}"
    env = {**os.environ, "CDP_DATA_DIR": str(work), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    started = time.monotonic()
    done = subprocess.run(
        [dbt_executable(), "build", "--exclude-resource-type", "unit_test", *args,
         "--target-path", str(target), "--log-path", str(target)],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode > 1:  # 1: a data test failed, which the figures still describe
        raise SystemExit(f"dbt build ({label}) exited {done.returncode}:\n{done.stdout[-3000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    by_kind: dict[str, float] = defaultdict(float)
    for result in results:
        by_kind[result["unique_id"].split(".")[0]] += result["execution_time"]
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:25]
    return {
        "wall_seconds": round(wall, 1),
        "nodes": len(results),
        "not_passed": [r["unique_id"] for r in results if r["status"] not in ("success", "pass")],
        "thread_seconds": {kind: round(seconds, 1) for kind, seconds in sorted(by_kind.items())},
        "slowest": [(r["unique_id"], round(r["execution_time"], 2)) for r in slowest],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a benchmark's cdp.duckdb (copied)")
    parser.add_argument("--dir", type=Path, required=True, help="work folder (its warehouse/ is replaced)")
    parser.add_argument("--since", help="hold back the raw rows loaded at or after this instant")
    options = parser.parse_args()
    copy = options.dir / "warehouse" / "cdp.duckdb"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(options.warehouse, copy)
    salt = options.warehouse.parent / "pseudonym_salt"
    if salt.exists():
        shutil.copyfile(salt, copy.parent / salt.name)
    since, held, tables = _hold_back(copy, options.since)
    report: dict = {"warehouse": str(options.warehouse), "since": since, "raw_rows_held_back": held}
    report["full_refresh"] = _build(options.dir, "full", "--full-refresh")
    _put_back(copy, tables)
    report["day"] = _build(options.dir, "day", "--exclude", "test_type:generic,path:seeds")
    (options.dir / "dbt_day.json").write_text(json.dumps(report, indent=1))
    day = report["day"]
    print(f"raw rows held back since {since}: {held:,}")
    print(f"full refresh {report['full_refresh']['wall_seconds']} s; day {day['wall_seconds']} s wall, "
          f"thread seconds {day['thread_seconds']}, not passed: {day['not_passed'] or 'none'}")  # fmt: skip
    for node, seconds in day["slowest"]:
        print(f"  {seconds:7.2f} {node}")


if __name__ == "__main__":
    main()
