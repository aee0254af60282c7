"""The dbt project's files: where it is, what dbt parses it from, the target folders of its builds,
and the tables a whole build leaves behind.

No dbt or Dagster import: change detection reads them on the path of a run
with nothing to do (``orchestration/runtime/changes.py``), which must stay a fraction of a second;
importing dagster-dbt alone takes about 2 s. The dbt CLI resource and the manifest are in
``orchestration/lib/dbt.py``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import duckdb

from orchestration.settings import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# What dbt reads; anything else under dbt_project/ (target/, logs/) is its output. A change to any
# of them means a new parse (manifest) and a new content hash (orchestration/runtime/changes.py).
PROJECT_INPUTS = (
    "dbt_project.yml", "profiles.yml", "packages.yml", "models", "macros", "tests", "seeds", "snapshots",
)  # fmt: skip
PARSED_PROJECT = "partial_parse.msgpack"  # dbt's parsed project, in a target folder
# The dbt step's name in Dagster, which prefixes the target folders of its builds.
BUILD_STEP = "cdp_dbt_models"


def project_inputs(project_dir: Path = DBT_PROJECT_DIR) -> list[Path]:
    """The files and folders of ``PROJECT_INPUTS`` that exist in the project."""
    return [project_dir / name for name in PROJECT_INPUTS if (project_dir / name).exists()]


def newest_input(project_dir: Path = DBT_PROJECT_DIR) -> float:
    """Modification time of the newest file dbt parses the project from."""
    newest = 0.0
    for path in project_inputs(project_dir):
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def new_target(root: Path, name: str) -> Path:
    """A fresh target folder for one dbt invocation, under this data folder's ``root``.

    dagster-dbt would make it in ``dbt_project/target``, shared by every data folder: the cleanup
    of one run's old folders there removed the folder of another data folder's build while it ran
    (a test's uninterrupted run failed with "No such file or directory: target/cdp_dbt_models-…").
    Runs on one data folder never overlap (the warehouse pool), so within ``root`` only this run's
    folder is in use. It starts from the parsed project the previous step left here, which
    dagster-dbt then leaves alone (it copies the project's own only into a folder without one).
    """
    for folder in root.glob("*-*-*"):  # earlier invocations' folders: about 12 MB each
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
    target = root / f"{name}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True)
    parsed = root / PARSED_PROJECT
    if parsed.exists():
        shutil.copyfile(parsed, target / PARSED_PROJECT)
    return target


def keep_parsed_project(target: Path) -> None:
    """Leave this build's parsed project where the next dbt step of this data folder starts from.

    dbt throws a parsed project away and parses all 238 nodes again when the profile it was written
    with differs ("profile has changed": the warehouse path comes from CDP_DATA_DIR, so the project's
    own ``target/partial_parse.msgpack``, left by the last test run or any other data folder, never
    matched): ``dbt parse`` on the 100,000-customer data folder took 6.0 s from such a file against
    3.0 s from a matching one, and every dbt step of a day paid it. The build's own parse matches
    the profile of the runs that follow it on the same data folder.
    """
    parsed = target / PARSED_PROJECT
    if not parsed.exists():  # dbt stopped before parsing
        return
    kept = target.parent / PARSED_PROJECT
    partial = kept.with_name(f".{PARSED_PROJECT}.{target.name}.tmp")
    shutil.copyfile(parsed, partial)
    partial.replace(kept)  # atomic: a dbt step starting meanwhile reads the old or the new file


def built_project_artifacts(root: Path, project_dir: Path = DBT_PROJECT_DIR) -> Path | None:
    """The target folder of the last ``dbt build`` in ``root`` (this data folder's dbt folder), if it
    describes the project as it is now.

    Its ``manifest.json`` holds every built model's compiled SQL and its ``partial_parse.msgpack``
    the parsed project, so ``dbt docs generate --no-compile`` from a copy of them only queries the
    catalog: 4.6 s instead of 26.5 s at 100,000 customers (measured on a copy of that warehouse
    while another benchmark ran). None when no build left one, the project changed since, or the
    build was a subset (models it did not build have no compiled SQL to show).
    """
    folders = [f for f in root.glob(f"{BUILD_STEP}-*") if (f / "manifest.json").exists()]
    if not folders:
        return None
    newest = max(folders, key=lambda f: (f / "manifest.json").stat().st_mtime)
    if (newest / "manifest.json").stat().st_mtime < newest_input(project_dir):
        return None
    nodes = json.loads((newest / "manifest.json").read_text())["nodes"].values()
    if not all(node.get("compiled_code") for node in nodes if node["resource_type"] == "model"):
        return None
    return newest


def drop_orphaned_models(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> list[str]:
    """Drop the tables and views of dbt's schemas that no model, seed or snapshot of ``manifest``
    builds any more, and return their names.

    dbt never drops a model it no longer has: after a rename the old table stays, is never
    refreshed again, and keeps what an erasure removed from everything else. Only the schemas
    dbt's own nodes build into are looked at (never ``raw``, ``identity`` or the failing rows of
    tests); call it after a whole build, whose manifest describes the whole project.
    """
    built = {
        (node["schema"], node.get("alias") or node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }
    schemas = sorted({schema for schema, _ in built})
    if not schemas:
        return []
    present = con.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        f"where table_schema in ({', '.join('?' for _ in schemas)})",
        schemas,
    ).fetchall()
    dropped = []
    for schema, name, kind in sorted(present):
        if (schema, name) not in built:
            con.execute(f'drop {"view" if kind == "VIEW" else "table"} "{schema}"."{name}"')
            dropped.append(f"{schema}.{name}")
    return dropped
