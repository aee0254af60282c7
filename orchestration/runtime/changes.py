"""What changed since the last successful run: the one place that decides what a run may skip.

Each stage after ingestion (identity, dbt, the dbt docs, the serving publication) has *inputs*,
fingerprinted part by part, and the warehouse keeps the fingerprint of the inputs its last
successful run used (``pipeline.stage_state``). A stage whose inputs are all unchanged has nothing
to do; one whose inputs changed says which (``raw.pos_tickets changed``, ``dbt project changed``).

Inputs, and why they are these:

- **raw tables**: row count and latest ``_loaded_at`` of each ``raw.<table>`` (loads only append,
  re-deliveries append a new version, so both move with any load; read from the tables themselves,
  not from ``raw.load_log``, so a table emptied or restored by hand is seen too);
- **identity**: its raw tables, ``identity.yml`` (content), the model trained on this warehouse
  and the identity code (``orchestration/identity/``: modules and shipped model, content);
- **dbt**: every raw table, the identity resolution last recorded, and a content hash of the dbt
  project (models, macros, tests, seeds, snapshots, ``dbt_project.yml`` with its vars,
  ``profiles.yml``); a changed project also means a ``--full-refresh`` of incremental models;
- **docs**: the dbt project only (`dbt docs generate` describes models and columns, which only
  the project changes);
- **serving**: the dbt build last recorded, ``CDP_SERVING_PII`` and the serving code.

The state lives in the warehouse rather than in Dagster's data versions because the warehouse is
what it describes: a fresh or restored warehouse with an old Dagster instance must not be taken
for up to date, and ``cdp run`` can answer "anything to do?" by reading one small table, without
loading the Dagster definitions (about 5 s) — that is how a run with no new file stays within a
few times the floor. A stage's output that is missing (``serving/marts.duckdb`` deleted) is a
reason to run it too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.exports import ALL_TABLES
from orchestration.identity import IDENTITY_RAW_TABLES, config_path
from orchestration.lib.dbt_project import DBT_PROJECT_DIR, project_inputs
from orchestration.settings import REPO_ROOT, Settings
from orchestration.warehouse import STATE_SCHEMA, table_exists, tables_in

STATE_TABLE = f"{STATE_SCHEMA}.stage_state"
STAGES = ("identity", "dbt", "docs", "serving")
IDENTITY_CODE = REPO_ROOT / "orchestration" / "identity"
SERVING_CODE = REPO_ROOT / "orchestration" / "serving"


def content_hash(paths: Iterable[Path], root: Path | None = None) -> str:
    """SHA-256 over the files' names (relative to ``root``) and bytes, in name order; folders
    are walked. Content, not modification times: a fresh clone has new times and the same code."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif path.is_file():
            files.append(path)
    for file in sorted(files):
        digest.update(str(file.relative_to(root) if root else file).encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def dbt_project_hash() -> str:
    return content_hash(project_inputs(), DBT_PROJECT_DIR)


def raw_state(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict[str, str]:
    """``raw.<table>`` → ``"<rows> rows, last loaded <time>"`` (``absent`` before its first load),
    with ``", <n> files retired"`` once ``cdp unload`` took some out: a file retired and a
    corrected one loaded in its place may leave the row count as it was."""
    present = tables_in(con, "raw")
    retired: dict[str, int] = {}
    if "load_log" in present and "retired_by" in {
        c
        for (c,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'load_log'"
        ).fetchall()
    }:
        retired = dict(
            con.execute(
                "select table_name, count(*) from raw.load_log where status = 'retired' group by 1"
            ).fetchall()
        )
    state = {}
    for table in tables:
        if table not in present:
            state[f"raw.{table}"] = "absent"
            continue
        rows, last = con.execute(f'select count(*), max(_loaded_at) from raw."{table}"').fetchall()[0]
        state[f"raw.{table}"] = f"{rows} rows, last loaded {last}" + (
            f", {retired[table]} files retired" if retired.get(table) else ""
        )
    return state


def tables_with_rows_removed(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """Raw tables holding fewer rows than ``before`` (``raw_state`` values), or more retired files:
    rows were deleted (an erasure, a table restored by hand, ``cdp unload``). Loads only append, so
    incremental models never look for rows gone from raw; such a change calls for rebuilding them in full."""

    def rows(state: str | None) -> int | None:
        return int(state.split(" ", 1)[0]) if state and state[0].isdigit() else None

    def retired(state: str | None) -> int:
        found = re.search(r", ([0-9]+) files retired", state or "")
        return int(found.group(1)) if found else 0

    return [
        part
        for part, state in now.items()
        if part.startswith("raw.")
        and (was := rows(before.get(part))) is not None
        and ((rows(state) or 0) < was or retired(state) > retired(before.get(part)))
    ]


def _recorded(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[dict[str, str], str, datetime]]:
    """stage → (inputs, run id, completed at) of its last successful run."""
    if not table_exists(con, STATE_SCHEMA, STATE_TABLE.split(".")[1]):
        return {}
    return {
        stage: (json.loads(inputs), run_id, completed_at)
        for stage, inputs, run_id, completed_at in con.execute(
            f"select stage, inputs, run_id, completed_at from {STATE_TABLE}"
        ).fetchall()
    }


def stage_inputs(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, dict[str, str]]:
    """Every stage's inputs as they are now, part → fingerprint."""
    recorded = _recorded(con)
    raw = raw_state(con, [t.table for t in ALL_TABLES])
    project = dbt_project_hash()

    def last(stage: str) -> str:
        if stage not in recorded:
            return "never"
        return f"run {recorded[stage][1]} at {recorded[stage][2]}"

    return {
        "identity": {
            **{k: v for k, v in raw.items() if k.removeprefix("raw.") in IDENTITY_RAW_TABLES},
            # By content and file name, not where the file is: a data folder moved or restored
            # elsewhere holds the same settings and model.
            "identity.yml": content_hash([config_path()], config_path().parent),
            # The shipped model (identity/model.json) is part of the identity code's folder.
            "trained model": content_hash([settings.trained_model_path], settings.trained_model_path.parent),
            # A steward's decision made or revoked: its records are clustered again.
            "steward decisions": content_hash(
                [settings.steward_decisions_path], settings.steward_decisions_path.parent
            ),
            "identity code": content_hash([IDENTITY_CODE], REPO_ROOT),
        },
        "dbt": {**raw, "identity resolution": last("identity"), "dbt project": project},
        "docs": {"dbt project": project},
        "serving": {
            "dbt build": last("dbt"),
            "CDP_SERVING_PII": ",".join(sorted(settings.clear_pii)),
            "serving code": content_hash([SERVING_CODE], REPO_ROOT),
        },
    }


# Files each stage writes outside the warehouse: missing, the stage runs again.
def _outputs(settings: Settings) -> dict[str, list[Path]]:
    return {
        "docs": [settings.dbt_docs_dir / "index.html"],
        "serving": [settings.published_marts_path, settings.report_dir / "index.html"],
    }


def why_run(
    stage: str,
    now: dict[str, str],
    recorded: dict[str, tuple[dict[str, str], str, datetime]],
    settings: Settings,
) -> str | None:
    """Why ``stage`` must run (one line), or None when its inputs are those of its last run."""
    if stage not in recorded:
        return "no successful run recorded in this warehouse"
    before = recorded[stage][0]
    changed = [k for k in now if before.get(k) != now[k]]
    missing = [p for p in _outputs(settings).get(stage, []) if not p.exists()]
    if missing:
        return f"{missing[0]} is missing"
    if not changed:
        return None
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"{shown} changed"


@dataclass(frozen=True)
class Plan:
    """What each stage has to do: ``reasons[stage]`` says why it runs, None when it may skip."""

    inputs: dict[str, dict[str, str]]
    previous: dict[str, dict[str, str]]  # the inputs each stage's last successful run used
    reasons: dict[str, str | None]
    last_run: str | None  # run id of the last recorded stage run
    last_at: datetime | None
    runs: dict[str, str]  # stage -> run id of its last successful run

    def previous_run(self, stage: str) -> str | None:
        return self.runs.get(stage)

    @property
    def nothing_to_do(self) -> bool:
        return all(r is None for r in self.reasons.values())

    def skip_line(self) -> str:
        """The one line a skipped run prints (and shows in the UI)."""
        when = f" ({self.last_at:%Y-%m-%d %H:%M} UTC)" if self.last_at else ""
        return (
            f"nothing changed since run {self.last_run}{when}: raw tables, identity settings, model and "
            "code, dbt project and serving settings are as that run left them; identity, dbt, docs "
            "and publication skipped"
        )


def plan(con: duckdb.DuckDBPyConnection, settings: Settings) -> Plan:
    """The plan of a run on the warehouse as it is now (after ingestion)."""
    recorded = _recorded(con)
    inputs = stage_inputs(con, settings)
    reasons = {stage: why_run(stage, inputs[stage], recorded, settings) for stage in STAGES}
    latest = max(recorded.values(), key=lambda r: r[2], default=None)
    previous = {stage: r[0] for stage, r in recorded.items()}
    runs = {stage: r[1] for stage, r in recorded.items()}
    return Plan(inputs, previous, reasons, latest and latest[1], latest and latest[2], runs)


def record(con: duckdb.DuckDBPyConnection, stage: str, inputs: dict[str, str], run_id: str) -> None:
    """Remember that ``stage`` succeeded on ``inputs`` in run ``run_id``."""
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(
        f"""
        create table if not exists {STATE_TABLE} (
            stage varchar primary key, inputs json not null, run_id varchar, completed_at timestamptz
        )
        """
    )
    con.execute(
        f"insert or replace into {STATE_TABLE} values (?, ?, ?, ?)",
        [stage, json.dumps(inputs, sort_keys=True), run_id, datetime.now(UTC)],
    )


def new_landing_files(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> list[str]:
    """Landing files (relative paths) that ``raw.load_log`` has no row for at their current size
    and modification time: what the next ingestion would read."""
    if not landing_dir.exists():
        return []
    present = []
    for path in landing_dir.rglob("*"):
        if path.is_file():
            stat = path.stat()
            present.append((path.relative_to(landing_dir).as_posix(), stat.st_size, stat.st_mtime))
    if not present:
        return []
    if not table_exists(con, "raw", "load_log"):
        return sorted(p[0] for p in present)
    con.execute(
        "create or replace temp table _landing (file_path varchar, file_size bigint, file_mtime double)"
    )
    con.executemany("insert into _landing values (?, ?, ?)", present)
    return [
        r[0]
        for r in con.execute(
            """
            select l.file_path from _landing l
            where not exists (
                select 1 from raw.load_log g
                where g.file_path = l.file_path and g.file_size = l.file_size and g.file_mtime = l.file_mtime
            )
            order by 1
            """
        ).fetchall()
    ]


def landing_files_not_logged(settings: Settings) -> set[str] | None:
    """Landing files the warehouse has not logged at their current size and modification time (the
    landing sensor's "new"), or None while another process writes the warehouse (ask again later).

    ``raw.load_log`` is the truth of what was read: a sensor that kept its own list took every
    file of a landing folder loaded by ``cdp run`` for new, and started a run of its own.
    """
    if not settings.warehouse_path.exists():
        con = duckdb.connect()  # no warehouse yet: every file is new
    else:
        try:
            con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        except duckdb.Error:
            return None
    try:
        return set(new_landing_files(con, settings.landing_dir))
    finally:
        con.close()


def nothing_to_do(settings: Settings) -> str | None:
    """The line to print when a full run would have nothing to do, else None.

    Answered from the warehouse (opened read-only) and the landing folder, without the Dagster
    definitions: ``cdp run`` and the daily schedule ask it first, so a run with nothing new costs
    well under a second instead of about ten. A warehouse that another process has open is not
    waited for: the answer is then None, and the run goes the usual way (queued behind the other).
    """
    if not settings.warehouse_path.exists():
        return None
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.Error:
        return None
    try:
        if new_landing_files(con, settings.landing_dir):
            return None
        current = plan(con, settings)
    finally:
        con.close()
    if not current.nothing_to_do:
        return None
    return f"Nothing to do: no new landing file, and {current.skip_line()}."
