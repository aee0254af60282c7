"""The local Dagster instance under ``$CDP_DATA_DIR/dagster``, shared by ``cdp run`` and ``make dev``.

Its ``dagster.yaml`` lets the daemon's run queue (UI, schedule, landing sensor) start one run tagged
``cdp/warehouse=write`` (every job here) at a time, and caps the ``duckdb_warehouse`` pool (every
asset that writes the warehouse) at one step across runs, so two runs never write DuckDB together.
``cdp run`` executes in-process, outside the queue: next to another run, the two take turns at the
pool, one step at a time.

A run whose process is killed (``kill -9``, out of memory, power loss) cannot say it ended: it
stays STARTED in the run history and keeps its pool slot, so every later run waits for that slot
forever. ``recover_dead_runs`` is called by ``cdp run`` before it starts: a run whose process is
gone is marked failed and its slot released, and the processes it left behind (a ``dbt build``
still writing the warehouse) are stopped. A run whose process is alive is never touched.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
import sqlalchemy
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from orchestration.settings import DAGSTER_HOME_ENV, RUN_ID_ENV, Settings

DAGSTER_YAML = """\
# Written by orchestration/runtime/instance.py; edits are overwritten.
# Run, event-log and schedule storage: SQLite files beside this one (history/, schedules/,
# storage/ for compute logs), Dagster's default for a local instance; the event log is Dagster's
# SQLite storage with one open connection per database (orchestration.runtime.instance.LocalEventLogStorage).
telemetry:
  enabled: false
event_log_storage:
  module: orchestration.runtime.instance
  class: LocalEventLogStorage
  config:
    base_dir: {event_log_dir}
concurrency:
  runs:
    tag_concurrency_limits:
      - key: cdp/warehouse
        value: write
        limit: 1
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  max_resume_run_attempts: 0
  # The daemon (make dev) releases pool slots still held by a run that ended (e.g. marked
  # failed or terminated in the UI); `cdp run` also does it for runs whose process died.
  free_slots_after_run_end_seconds: 10
"""

# Tags of every `cdp run` (and its RUN_ID_ENV), so the next one can tell a dead run from a live one.
PID_TAG = "cdp/pid"
HOST_TAG = "cdp/host"
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
STOP_GRACE_SECONDS = 10.0
# /proc gives a start time to 1/100 s but the boot time only to the second.
CLOCK_SLACK_SECONDS = 1.5


# Run databases whose connection stays open in one process (the UI reads many runs).
OPEN_RUN_DATABASES = 4
SQLITE_BUSY_TIMEOUT_SECONDS = 30


class LocalEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (one database per run, plus an index), with connections kept open.

    Dagster's SQLite storage creates an engine, opens the file, commits with a full sync and closes
    it again for every event, and three times for an asset check evaluation (run database, index,
    check record). A run of the pipeline writes about 1,300 events (every dbt test and every Great
    Expectations expectation is a check evaluation): at 3,000 customers that cost 17-47 s of
    48-74 s runs, whatever the data size (docs/benchmarks.md). Here each database keeps one
    connection (used under the storage's lock, so one thread at a time), in WAL mode with
    ``synchronous=NORMAL`` (a power cut may lose the last events, never corrupt the file; the
    warehouse is what must survive, and DuckDB syncs its own commits); a run database is still
    checkpointed after each commit, for the UI (``_connect``). Same files, same schema: an instance
    can switch back to Dagster's class at any time.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: dict[str, Engine] = {}  # before Dagster's __init__, which may write the index
        super().__init__(base_dir, inst_data)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = sqlalchemy.create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            sqlalchemy.event.listen(
                engine, "connect", lambda dbapi, _: dbapi.execute("pragma synchronous = normal")
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine  # most recently used last
        runs = [s for s in self._engines if s != "index"]
        for stale in runs[:-OPEN_RUN_DATABASES]:
            self._engines.pop(stale).dispose()
        return engine

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn:
            with conn.begin():
                yield conn
            if shard != "index":
                # The UI follows a run by watching its database file, which a WAL commit leaves
                # untouched until a checkpoint; Dagster's own storage checkpoints by closing.
                conn.exec_driver_sql("pragma wal_checkpoint(passive)")

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()  # Dagster deletes the files
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()

    @classmethod
    def from_config_value(  # Dagster's returns its own class
        cls, inst_data: ConfigurableClassData | None, config_value: dict
    ) -> LocalEventLogStorage:
        return cls(inst_data=inst_data, **config_value)


def ensure_instance(settings: Settings) -> dg.DagsterInstance:
    """Write the instance configuration, point DAGSTER_HOME at it and open the instance."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # Where Dagster's default SQLite storage keeps the event log: runs written before keep their history.
    text = DAGSTER_YAML.format(event_log_dir=json.dumps(str(home / "history" / "runs")))
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    os.environ[DAGSTER_HOME_ENV] = str(home)
    return dg.DagsterInstance.get()


def process_tags() -> dict[str, str]:
    """Tags naming this process, for a run it is about to execute in-process."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def recover_dead_runs(instance: dg.DagsterInstance, settings: Settings) -> list[str]:
    """Close the runs whose process died and release what they held; one line per thing done.

    A run is dead when its process (``cdp/pid`` tag, else the pid Dagster logged when the run's
    steps started) no longer exists, is a zombie, or is a newer process that reused the pid.
    Runs on another host, runs with no known process and live runs are left alone.
    """
    lines: list[str] = []
    closed = 0
    alive: list[tuple[dg.DagsterRun, int]] = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED)):
        process = _run_process(instance, record)
        if process is None:
            continue
        pid, seen_at = process
        if _process_alive(pid, seen_at):
            alive.append((record.dagster_run, pid))
        else:
            lines += _close_dead_run(instance, settings, record.dagster_run, pid)
            closed += 1
    lines += _release_slots_of_finished_runs(instance)
    if closed and not alive:
        _empty_scratch(settings)
    for run, pid in alive:
        launched_by = run.tags.get("cdp/launched_by", "the Dagster UI or daemon")
        lines.append(
            f"Run {run.run_id} ({launched_by}, pid {pid}) is running too: the two take turns "
            "writing the warehouse, one step at a time."
        )
    return lines


def _run_process(instance: dg.DagsterInstance, record: dg.RunRecord) -> tuple[int, float] | None:
    """The run's process id and a time at which that process was known to run it."""
    run = record.dagster_run
    if run.tags.get(HOST_TAG, socket.gethostname()) != socket.gethostname():
        return None
    if PID_TAG in run.tags:
        return int(run.tags[PID_TAG]), record.create_timestamp.timestamp()
    # Runs launched from the UI: the run worker logs "Started process for run (pid: …)" and the
    # in-process executor "Executing steps in process (pid: …)".
    events = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, ascending=True, limit=20
    ).records
    for event in events:
        data = event.event_log_entry.dagster_event.engine_event_data
        pid = data.metadata.get("pid") if data else None
        if pid is not None:
            return int(pid.value), event.event_log_entry.timestamp
    return None


def _process_alive(pid: int, seen_at: float) -> bool:
    """False only when the process is certainly gone; in doubt (no /proc, another user's), alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    # A zombie (killed, not yet reaped by its parent) holds no file and no slot.
    if state in ("Z", "X"):
        return False
    # A pid reused by a process that started after the run's process was seen is not the run's.
    return started <= seen_at + CLOCK_SLACK_SECONDS


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """State and start time (epoch seconds) of a process, from Linux's /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, IndexError, StopIteration):
        return None
    # fields[0] is stat's 3rd field (state), fields[19] its 22nd (start time in clock ticks after boot).
    return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _close_dead_run(
    instance: dg.DagsterInstance, settings: Settings, run: dg.DagsterRun, pid: int
) -> list[str]:
    storage = instance.event_log_storage
    held = []
    if storage.supports_global_concurrency_limits:
        for pool in storage.get_concurrency_keys():
            held += [
                f"{slot.step_key} ({pool})"
                for slot in storage.get_concurrency_info(pool).claimed_slots
                if slot.run_id == run.run_id
            ]
    lines = [
        f"Run {run.run_id} did not finish: its process {pid} is gone (killed?)"
        + (f" while running {', '.join(held)}" if held else "")
        + ". Marked failed"
        + (", its slot released." if held else ".")
    ]
    stopped = _stop(_processes_of_run(run.run_id))
    if stopped:
        names = ", ".join(f"{name} (pid {child})" for child, name in stopped)
        lines.append(f"  Stopped what it had started and left running: {names}.")
    instance.report_run_failed(
        run,
        message=f"The run's process ({pid}) died before the run finished; marked failed by the "
        f"next `cdp run`, which released its concurrency slots.",
    )
    if storage.supports_global_concurrency_limits:
        storage.free_concurrency_slots_for_run(run.run_id)
    # The serving database the run was copying (orchestration/serving/publish.py), never published.
    serving = settings.serving_dir
    for partial in serving.glob(f".*.{run.run_id}.tmp*") if serving.exists() else ():
        partial.unlink(missing_ok=True)
    return lines


def _release_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    """Slots held by runs that ended without releasing them (marked failed from the UI, deleted)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = set(storage.get_concurrency_run_ids())
    for pool in storage.get_concurrency_keys():
        holders |= {slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots}
    if not holders:
        return []
    unfinished = {
        run.run_id
        for run in instance.get_runs(filters=dg.RunsFilter(run_ids=sorted(holders)))
        if not run.is_finished
    }
    lines = []
    for run_id in sorted(holders - unfinished):
        storage.free_concurrency_slots_for_run(run_id)
        lines.append(f"Released the concurrency slots still held by run {run_id}, which has ended.")
    return lines


def _processes_of_run(run_id: str) -> list[int]:
    """Live processes started by the run (they inherited ``CDP_RUN_ID``); Linux only."""
    marker = f"{RUN_ID_ENV}={run_id}".encode()
    found = []
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile, or another user's
            continue
        if marker in environment:
            found.append(int(entry.name))
    return found


def _stop(pids: Iterable[int]) -> list[tuple[int, str]]:
    """SIGTERM, then SIGKILL after a grace period. A DuckDB writer stopped midway loses only its
    open transaction; what it committed is replayed from the WAL when the warehouse is next opened."""
    stopped = []
    for pid in pids:
        name = _process_name(pid)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        stopped.append((pid, name))
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline and any(_process_alive(pid, math.inf) for pid, _ in stopped):
        time.sleep(0.1)
    for pid, _ in stopped:
        if _process_alive(pid, math.inf):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return stopped


def _process_name(pid: int) -> str:
    """``dbt build``, ``tail -F``, …: the program and its first argument."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "a process"
    if Path(argv[0]).name.startswith("python") and argv[1:2] and not argv[1].startswith("-"):
        argv = argv[1:]  # python …/bin/dbt build
    return " ".join(word for word in (Path(argv[0]).name, *argv[1:2]) if word)


def _empty_scratch(settings: Settings) -> None:
    """``$CDP_DATA_DIR/tmp`` holds only the scratch of running steps; with no run alive, none."""
    scratch = settings.tmp_dir
    for entry in scratch.iterdir() if scratch.is_dir() else ():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
