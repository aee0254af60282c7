"""`kill -9` of a real `cdp run`, in identity resolution and then in dbt, and `cdp run` again: the
run recovers by itself and leaves the warehouse and the serving copy an uninterrupted run leaves.

Before the fix, a killed run kept its ``duckdb_warehouse`` pool slot in the Dagster instance and
the next run waited for it forever; a ``dbt build`` it had started kept writing the warehouse.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.raw import WAREHOUSE_POOL
from orchestration.generate import Lifecycle, generate
from orchestration.runtime.instance import (
    CLOCK_SLACK_SECONDS,
    PID_TAG,
    RUN_ID_ENV,
    _processes_of_run,
    ensure_instance,
    process_tags,
    recover_dead_runs,
)
from orchestration.settings import get_settings

CUSTOMERS = 150
# Columns that record when or by which run a row was written: they differ between two runs of the
# same files by design. Everything else must be equal.
RUN_TIME_COLUMNS = {
    "_loaded_at",  # every raw table
    "raw.load_log.loaded_at",
    "raw.load_log.run_id",
    "raw.quarantine_rows.quarantined_at",
    "raw.quarantine_rows.run_id",
    "identity.customer_registry.created_at",
    "identity.customer_id_history.changed_at",
    "identity.customer_id_history.run_id",
    "identity.resolution_runs.run_id",
    "identity.resolution_runs.run_number",
    "identity.resolution_runs.resolved_at",
    "identity.accuracy_estimates.run_id",
    "identity.accuracy_estimates.estimated_at",
    "identity.resolution_state.resolved_at",
    "identity.resolution_state.full_resolved_at",
    "identity.raw_batches.loaded_at",  # the raw loads the last resolution read (their _loaded_at)
    # Incremental models keep the raw load time of their rows (what the next build starts after).
    "intermediate.int_orders_unioned.loaded_at",
    "intermediate.int_order_lines_unioned.loaded_at",
    "intermediate.int_web_sessions_aggregated.loaded_at",
    # The build that last saw a customer's inputs change (a build's start).
    "intermediate.int_customer_changes.changed_at",
    # When a build published a closed period's KPIs (the snapshot's clock).
    "marts.mart_kpi_restatements.first_published_at",
    "marts.mart_kpi_restatements.latest_published_at",
    "main.mart_kpi_restatements.first_published_at",  # the same, published in serving/marts.duckdb
    "main.mart_kpi_restatements.latest_published_at",
    "main._publication.run_id",  # serving/marts.duckdb
    "main._publication.published_at",
    "main._publication.written_run_id",  # the run that last wrote each published table, when
    "main._publication.written_at",
    # A table's fingerprint covers its rows, mart_kpi_restatements' publication times included.
    "main._publication.fingerprint",
}
# One row per identity resolution: the run killed in dbt had resolved identities once more. Its
# latest row (the figures of the current resolution) must be equal.
RUN_LOGS = {"identity.resolution_runs": "run_number", "identity.accuracy_estimates": "estimated_at"}
WAREHOUSE_SCHEMAS = ["raw", "identity", "intermediate", "marts", "reference"]
# The first line the identity step logs, and dbt's line for a node it starts.
IDENTITY_STARTED = "identity_resolution: fields populated"
DBT_NODE_START = re.compile(r"^\d+ of \d+ START ")
# The console's line for the dbt step starting; dbt's own lines go to the run's log file.
DBT_COMMAND = "cdp_dbt_models: Running dbt command"
RUN_TIMEOUT_SECONDS = 400


def _environment(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CDP_DATA_DIR": str(data),
        "CDP_DUCKDB_THREADS": "2",
        "PYTHONUNBUFFERED": "1",  # each line as it is printed: the kill lands where the test says
        "CDP_QUALITY_AS_OF": (data / "truth" / "as_of.txt").read_text().strip(),
    }


def _start(data: Path, output: Path | None = None) -> subprocess.Popen[str]:
    """`cdp run` on ``data``, its output to ``output`` (a pipe when None)."""
    command = [sys.executable, "-m", "orchestration.cli", "run"]
    if output is None:
        return subprocess.Popen(
            command, env=_environment(data), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    with output.open("w") as log:
        return subprocess.Popen(
            command, env=_environment(data), stdout=log, stderr=subprocess.STDOUT, text=True
        )


def _finish(proc: subprocess.Popen[str], output: Path) -> str:
    proc.wait(timeout=RUN_TIMEOUT_SECONDS)
    text = output.read_text()
    assert proc.returncode == 0, text
    return text


def _wait_for_a_dbt_node(data: Path, proc: subprocess.Popen) -> None:
    """Until dbt starts its first node: its lines are in the run's log file (data/logs/run_<id>.log,
    the newest), not on the console, which keeps the progress lines."""
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while proc.poll() is None and time.monotonic() < deadline:
        logs = sorted((data / "logs").glob("run_*.log"), key=lambda p: p.stat().st_mtime)
        if logs and any(DBT_NODE_START.match(line) for line in logs[-1].read_text().splitlines()):
            return
        time.sleep(0.02)


def _run_and_kill(data: Path, at: str) -> str:
    """Start `cdp run`, SIGKILL it (its process alone, as `kill -9 PID` does) at a line of its output."""
    proc = _start(data)
    watchdog = threading.Timer(RUN_TIMEOUT_SECONDS, proc.kill)
    watchdog.start()
    output = []
    assert proc.stdout is not None
    for line in proc.stdout:
        output.append(line)
        if (at == "identity" and IDENTITY_STARTED in line) or (at == "dbt" and DBT_COMMAND in line):
            if at == "dbt":
                _wait_for_a_dbt_node(data, proc)
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    proc.stdout.close()
    watchdog.cancel()
    assert proc.returncode == -signal.SIGKILL, f"not killed in {at}:\n" + "".join(output)
    return "".join(output)


def _freeze_left_running(data: Path) -> list[int]:
    """SIGSTOP what the killed, still unfinished run on ``data`` left running (its `dbt build`),
    found as the next run finds it: they stay alive until the next run stops them, however soon
    they would have finished on this machine."""
    instance = dg.DagsterInstance.from_config(str(data / "dagster"))
    try:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    finally:
        instance.dispose()
    frozen = [pid for run in runs for pid in _processes_of_run(run.run_id)]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    return frozen


def _digest(database: Path, schemas: list[str]) -> dict[str, tuple[int, str]]:
    """Row count and content hash of every table; floats rounded to 9 digits (Splink's sums vary
    in the last bits with the order DuckDB's threads add them), run-time columns left out."""
    con = duckdb.connect(str(database), read_only=True)
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and list_contains(?, table_schema)",
        [schemas],
    ).fetchall()
    digests = {}
    for schema, table in tables:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by column_name",
            [schema, table],
        ).fetchall()
        select = ", ".join(
            f'round("{name}", 9)' if kind in ("DOUBLE", "FLOAT") else f'"{name}"'
            for name, kind in columns
            if name not in RUN_TIME_COLUMNS and f"{schema}.{table}.{name}" not in RUN_TIME_COLUMNS
        )
        rows = f'"{schema}"."{table}"'
        if f"{schema}.{table}" in RUN_LOGS:
            rows = f"(from {rows} order by {RUN_LOGS[f'{schema}.{table}']} desc limit 1)"
        digests[f"{schema}.{table}"] = con.execute(
            "select count(*), md5(coalesce(string_agg(h, '' order by h), '')) "
            f"from (select md5(row({select})::varchar) as h from {rows})"
        ).fetchall()[0]
    con.close()
    return digests


def test_a_killed_run_recovers_on_the_next_run(tmp_path: Path) -> None:
    source = tmp_path / "generated"
    generate(
        source / "landing",
        source / "truth",
        customers=CUSTOMERS,
        seed=11,
        days=90,
        lifecycle=Lifecycle(history_days=90),
    )
    recovered, uninterrupted = tmp_path / "recovered", tmp_path / "uninterrupted"
    for data in (recovered, uninterrupted):
        shutil.copytree(source, data)  # copy2: the same bytes and modification times
        # The same pseudonymisation salt, so that the serving copies can be compared.
        (data / "warehouse").mkdir()
        (data / "warehouse" / "pseudonym_salt").write_text("0" * 64)

    # The uninterrupted run, meanwhile (its own data directory and Dagster instance).
    baseline = _start(uninterrupted, tmp_path / "uninterrupted.log")

    _run_and_kill(recovered, at="identity")
    # The next run frees the dead run's slot (it used to wait for it forever) and is killed in dbt.
    second = _run_and_kill(recovered, at="dbt")
    assert re.search(r"its process \d+ is gone \(killed\?\) while running identity_resolution", second)
    assert "Marked failed, its slot released." in second
    # The third starts while the dead run's `dbt build` is still writing the warehouse: it stops it.
    # Frozen meanwhile: a small build may otherwise end before the third run has started.
    assert _freeze_left_running(recovered), "the killed run left no dbt process running"
    third = _finish(_start(recovered, tmp_path / "third.log"), tmp_path / "third.log")
    assert re.search(r"its process \d+ is gone \(killed\?\) while running cdp_dbt_models", third)
    assert re.search(r"Stopped what it had started and left running: .*dbt build \(pid \d+\)", third), third

    assert "did not finish" not in _finish(baseline, tmp_path / "uninterrupted.log")

    # Every table, identity.customer_source_records (each record's customer_id) among them.
    warehouse = Path("warehouse") / "cdp.duckdb"
    assert _digest(recovered / warehouse, WAREHOUSE_SCHEMAS) == _digest(
        uninterrupted / warehouse, WAREHOUSE_SCHEMAS
    )
    serving = Path("serving") / "marts.duckdb"
    assert _digest(recovered / serving, ["main"]) == _digest(uninterrupted / serving, ["main"])
    parquet = sorted(p.name for p in (recovered / "serving" / "parquet").iterdir())
    assert parquet == sorted(p.name for p in (uninterrupted / "serving" / "parquet").iterdir())

    # The instance holds no claim of the dead runs: both are failed, no pool slot is taken.
    instance = dg.DagsterInstance.from_config(str(recovered / "dagster"))
    statuses = sorted(run.status.value for run in instance.get_runs())
    assert statuses == ["FAILURE", "FAILURE", "SUCCESS"]
    storage = instance.event_log_storage
    assert not storage.get_concurrency_run_ids()
    for pool in storage.get_concurrency_keys():
        assert not storage.get_concurrency_info(pool).claimed_slots
    instance.dispose()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process start times come from /proc")
def test_only_runs_whose_process_is_gone_are_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live run keeps its slot; a run whose pid no longer exists, or now names a newer process,
    is marked failed, its slot released and the processes it started stopped."""
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "cdp"))
    monkeypatch.setenv("DAGSTER_HOME", "")  # restored after the test; ensure_instance sets it
    settings = get_settings()
    instance = ensure_instance(settings)
    storage = instance.event_log_storage
    storage.set_concurrency_slots(WAREHOUSE_POOL, 3)
    job = dg.Definitions(jobs=[dg.JobDefinition(graph_def=dg.GraphDefinition("nothing"))]).resolve_job_def(
        "nothing"
    )

    def started_run(pid: int) -> str:
        run = instance.create_run_for_job(
            job, status=dg.DagsterRunStatus.STARTED, tags={**process_tags(), PID_TAG: str(pid)}
        )
        storage.claim_concurrency_slot(WAREHOUSE_POOL, run.run_id, "a_step")
        return run.run_id

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    live, dead, reused = started_run(os.getpid()), started_run(int(ended.stdout)), started_run(1)
    # `reused`: its pid now names a process started after the run was created. /proc's start times
    # rest on the boot time, which drifts from the wall clock on some virtual machines (0.5 s seen):
    # the new process starts well past the slack.
    time.sleep(CLOCK_SLACK_SECONDS + 2.0)
    newer = subprocess.Popen(["sleep", "60"])
    instance.add_run_tags(reused, {PID_TAG: str(newer.pid)})
    # What the dead run left running: it says when it can be stopped and how it was stopped. It
    # sets its own SIGTERM handling: what the test process happens to ignore, block or catch at
    # that instant (libraries install handlers) must not decide how the child dies.
    script = tmp_path / "left_running.py"
    script.write_text(
        "import signal, sys, time\n"
        "def stop(signum, frame):\n"
        "    print('stopped by', signal.Signals(signum).name, flush=True)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    left_running = subprocess.Popen(
        [sys.executable, str(script)], env={**os.environ, RUN_ID_ENV: dead}, stdout=subprocess.PIPE, text=True
    )
    assert left_running.stdout is not None and left_running.stdout.readline().strip() == "ready"
    try:
        lines = recover_dead_runs(instance, settings)
    finally:
        newer.kill()
        newer.wait()
    said, _ = left_running.communicate(timeout=15)
    assert (said.strip(), left_running.returncode) == ("stopped by SIGTERM", 0)  # asked first, not killed
    output = "\n".join(lines)
    assert f"Run {dead} did not finish: its process {ended.stdout.strip()} is gone" in output
    assert f"Stopped what it had started and left running: left_running.py (pid {left_running.pid})" in output
    assert f"Run {reused} did not finish: its process {newer.pid} is gone" in output
    assert f"Run {live} (the Dagster UI or daemon, pid {os.getpid()}) is running too" in output
    status = {run.run_id: run.status for run in instance.get_runs()}
    assert status == {
        live: dg.DagsterRunStatus.STARTED,
        dead: dg.DagsterRunStatus.FAILURE,
        reused: dg.DagsterRunStatus.FAILURE,
    }
    assert [slot.run_id for slot in storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots] == [live]
    instance.dispose()
