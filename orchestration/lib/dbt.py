"""The dbt project: where it is, what it is parsed from, its manifest and the dbt CLI resource.

One home for what the Dagster assets, change detection and the dbt docs publication each need to
know about ``dbt_project/``; no Dagster assets here (``orchestration/defs/dbt.py`` builds them).
The manifest is built whenever it is missing or older than a file of the project:
``DbtProject.prepare_if_dev`` only does that under ``dagster dev``, and ``cdp run``, the tests and
a fresh clone need it too.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
import uuid
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from orchestration.settings import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# What dbt reads; anything else under dbt_project/ (target/, logs/) is its output. A change to any
# of them means a new parse (manifest) and a new content hash (orchestration/runtime/changes.py).
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "packages.yml", "models", "macros", "tests", "seeds")
PARSED_PROJECT = "partial_parse.msgpack"  # dbt's parsed project, in a target folder
# The dbt step's name in Dagster, which prefixes the target folders of its builds.
BUILD_STEP = "cdp_dbt_models"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


def project_inputs(project_dir: Path = DBT_PROJECT_DIR) -> list[Path]:
    """The files and folders of ``PROJECT_INPUTS`` that exist in the project."""
    return [project_dir / name for name in PROJECT_INPUTS if (project_dir / name).exists()]


def dbt_executable() -> str:
    """The ``dbt`` installed with this package, also when its virtualenv is not on PATH.

    ``make test`` and ``.venv/bin/cdp run`` start Python from ``.venv/bin`` without activating it,
    so ``dbt`` is found beside the interpreter rather than on PATH.
    """
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


class CdpDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, without running ``dbt --version`` before every dbt command.

    dagster-dbt learns dbt's version from ``dbt --version``: one more dbt process to start, which
    also asks PyPI for dbt's latest release (two requests, one second of timeout each offline).
    5.9 to 11.4 s before each dbt step on this machine while tests ran, and a network call at run
    time, which the pipeline must not need. The dbt we run is the dbt-core installed beside this
    Python, so its package metadata gives the version.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent != Path(sys.executable).parent:
            return super()._cli_version  # another dbt, found on PATH: ask it
        return version.parse(importlib.metadata.version("dbt-core"))


def dbt_cli() -> DbtCliResource:
    return CdpDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


def newest_input(project: DbtProject = dbt_project) -> float:
    """Modification time of the newest file dbt parses the project from."""
    newest = 0.0
    for path in project_inputs(Path(project.project_dir)):
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the dbt project (``dbt parse``) unless its manifest is up to date; return the manifest."""
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < newest_input(project):
        dbt_cli().cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return manifest


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


def built_project_artifacts(root: Path, project: DbtProject = dbt_project) -> Path | None:
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
    if (newest / "manifest.json").stat().st_mtime < newest_input(project):
        return None
    nodes = json.loads((newest / "manifest.json").read_text())["nodes"].values()
    if not all(node.get("compiled_code") for node in nodes if node["resource_type"] == "model"):
        return None
    return newest
