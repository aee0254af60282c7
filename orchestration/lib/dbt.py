"""The dbt project as dagster-dbt sees it: the ``DbtProject``, its manifest and the dbt CLI resource.

Its files (directory, the inputs dbt parses, the target folders of builds) are in
``orchestration/lib/dbt_project.py``, which imports no dbt; no Dagster assets here
(``orchestration/defs/dbt.py`` builds them).
The manifest is built whenever it is missing or older than a file of the project:
``DbtProject.prepare_if_dev`` only does that under ``dagster dev``, and ``cdp run``, the tests and
a fresh clone need it too.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from orchestration.lib.dbt_project import DBT_PROJECT_DIR, newest_input

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


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


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the dbt project (``dbt parse``) unless its manifest is up to date; return the manifest."""
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < newest_input(Path(project.project_dir)):
        dbt_cli().cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return manifest
