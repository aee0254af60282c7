"""`cdp bench` at a tiny size: every stage timed, the floor measured, results written (CI keeps
the command working; the real sizes are run by hand, see the README's Benchmark section). It runs
on gzip-compressed landing files (`--gzip`): the plain files are what every other test loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from orchestration.benchmarks.disk import IoPressure, describe
from orchestration.benchmarks.pipeline_run import STAGES
from orchestration.benchmarks.report import README_END, README_START

PRESSURE_KEYS = {
    "some_avg10",
    "full_avg10",
    "some_stall_us",
    "full_stall_us",
    "some_stall_share",
    "full_stall_share",
}


def _has_pressure(figures: dict | None) -> bool:
    """IO pressure figures where the kernel gives them, None (printed "n/a") where it does not."""
    if not Path("/proc/pressure/io").exists():
        return figures is None
    return set(figures or ()) == PRESSURE_KEYS and 0 <= figures["some_stall_share"] <= 1.5


def test_bench_times_every_stage_against_the_floor_and_adds_a_readme_row(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{README_START}\n| header |\n|---|\n{README_END}\n\nafter\n")
    folder = tmp_path / "bench"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "cdp"), "bench", "--customers", "120", "--dir", str(folder),
         "--readme", str(readme), "--increment-days", "5", "--gzip"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((folder / "bench.json").read_text())

    stages = {s["name"]: s for s in result["stages"]}
    assert tuple(stages) == STAGES
    for name in STAGES:
        if name != "train":
            assert stages[name]["seconds"] > 0, name
    # 120 customers are below identity.yml's training.auto_train_min_records: the shipped model is
    # used, and no time goes to training.
    assert stages["train"]["seconds"] == 0
    for name in ("ingest", "dbt", "checks", "publish", "report"):
        assert stages[name]["peak_rss_mb"] > 50 and stages[name]["rows_per_second"] > 0, name
    # The stages account for the whole run, and the floor read exactly the records ingest read.
    pipeline = result["pipeline"]["seconds"]
    assert abs(sum(s["seconds"] for s in stages.values()) - pipeline) < 0.01 * pipeline
    assert result["floor"]["rows"] == result["counts"]["raw_rows_read"] > 0
    assert result["total_to_floor"] == round(pipeline / result["floor"]["seconds"], 1)
    assert result["pipeline"]["peak_rss_mb"] >= max(s["peak_rss_mb"] or 0 for s in stages.values())
    # Every generated identity record is resolved once the held-back days are delivered.
    increments = result["increments"]
    assert result["counts"]["identity_records"] < result["generation"]["identity_records"]
    assert increments["identity_records_after"] == result["generation"]["identity_records"]
    assert 0.5 < result["identity"]["pairwise_f1"] <= 1
    assert "pipeline" in run.stdout and "x floor" in run.stdout

    # The last days were held back from the full run, then delivered one by one; before them, a
    # run with nothing new did nothing.
    assert increments["nothing_new"]["output"].startswith("Nothing to do: no new landing file")
    days = increments["days"]
    assert 1 <= len(days) <= 6 and [d["day"] for d in days] == sorted(d["day"] for d in days)
    for day in days:
        assert day["files"] > 0 and day["day"] >= "2026-10-27"
        assert day["stages"]["ingest"] > 0 and day["stages"]["identity"] > 0
        assert day["identity"].startswith("incremental: ")
    assert increments["full_identity_run_identity"].startswith("full: ")
    assert 0 < increments["incremental_vs_full"]["pairwise_f1"] <= 1
    assert "nothing new" in run.stdout and "daily runs" in run.stdout

    # Bytes written and IO pressure beside every stage; the landing files are gzip-compressed.
    written = result["bytes"]
    assert written["landing_gzip"] and result["generation"]["gzip"]
    assert written["landing"] == result["generation"]["landing_bytes"] > 0
    assert written["warehouse"] > 0 and written["serving"] > 0
    assert all(p.name.endswith(".gz") for p in (folder / "data" / "landing").rglob("*.*"))
    assert result["floor"]["megabytes"] <= round(written["landing"] / 1e6, 1)  # the held days aside
    stages_timed = (result["generation"], result["floor"], result["pipeline"], increments["nothing_new"])
    for stage in (*stages_timed, *days):
        assert _has_pressure(stage["io_pressure"]), stage
    assert _has_pressure(increments["full_identity_run_io_pressure"])
    for day in days:
        assert day["bytes"]["landing"] > 0 and day["bytes"]["warehouse"] >= written["warehouse"]
    assert run.stdout.count("io stall") + run.stdout.count("io n/a") == 5 + len(days)
    assert "landing" in run.stdout and "gzip" in run.stdout and "warehouse" in run.stdout

    text = readme.read_text()
    rows = text.split(README_START)[1].split(README_END)[0].strip().splitlines()
    assert rows[-1].startswith("| ") and "| 120 |" in rows[-1]
    assert text.endswith(f"{README_END}\n\nafter\n")


def test_io_pressure_is_the_growth_of_the_stall_counters_over_the_wall_time(tmp_path: Path) -> None:
    pressure = tmp_path / "io"
    line = (
        "some avg10=1.50 avg60=0.00 avg300=0.00 total={}\nfull avg10=0.50 avg60=0.00 avg300=0.00 total={}\n"
    )
    pressure.write_text(line.format(1_000_000, 500_000))
    with IoPressure(pressure) as io:
        pressure.write_text(line.format(1_000_000 + 3_000_000, 500_000 + 1_000))
    figures = io.figures
    assert figures is not None
    assert (figures["some_stall_us"], figures["full_stall_us"]) == (3_000_000, 1_000)
    assert (figures["some_avg10"], figures["full_avg10"]) == (1.5, 0.5)
    # Made-up counters: 3 s of stall in a stage of a few milliseconds.
    assert figures["some_stall_share"] > 1 and figures["full_stall_share"] > 0
    assert describe(figures).startswith("io stall some ")


def test_io_pressure_is_not_available_everywhere(tmp_path: Path) -> None:
    with IoPressure(tmp_path / "no-such-file") as io:
        pass
    assert io.figures is None
    assert describe(io.figures) == "io n/a"
