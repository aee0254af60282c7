"""dbt models as Dagster assets (dagster-dbt), grouped by dbt folder, dbt tests as asset checks.

The dbt project lives in ``dbt_project/``. Sources carry ``meta.dagster.asset_key`` so each one is
the raw or identity asset that writes it, and lineage runs unbroken from landing files to marts.

The manifest is built here, when the code location loads, whenever it is missing or older than a
file of the project: ``DbtProject.prepare_if_dev`` only does that under ``dagster dev``, and
``cdp run``, the tests and a fresh clone need it too.
"""

import importlib.metadata
import json
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from packaging import version

from orchestration import changes
from orchestration.defs.raw import OWNERS, WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.quality import failures
from orchestration.settings import REPO_ROOT, get_settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# What the manifest is parsed from; anything newer than the manifest triggers a new parse.
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "seeds")
PARSED_PROJECT = "partial_parse.msgpack"  # dbt's parsed project, in a target folder

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


def _newest_input(project: DbtProject) -> float:
    newest = 0.0
    for name in PROJECT_INPUTS:
        path = Path(project.project_dir) / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the dbt project (``dbt parse``) unless its manifest is up to date; return the manifest."""
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_input(project):
        dbt_cli().cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return manifest


class CdpDbtTranslator(DagsterDbtTranslator):
    """Keys ``<schema>/<model>`` (``marts/dim_customers``), groups by folder, our owners."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey([dbt_resource_props["config"]["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # fqn = [project, folder, subfolder..., model]: staging/pos → "staging_pos". Seeds sit
        # at the top of seeds/: they are the business-edited reference data.
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        return "_".join(dbt_resource_props["fqn"][1:-1]) or None

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        layer = "reference" if dbt_resource_props["resource_type"] == "seed" else dbt_resource_props["fqn"][1]
        return {**super().get_tags(dbt_resource_props), "layer": layer}


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=CdpDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def cdp_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """``dbt build`` of the selected models: each model, then its tests (reported as asset checks).

    Incremental models process only new loads; when the dbt project itself changed since the last
    successful build (``orchestration/changes.py``), they are rebuilt with ``--full-refresh``, since
    a changed model would otherwise apply only to new rows; so too when raw rows were removed (an
    erasure), which incremental models would never notice.
    """
    settings = get_settings()
    with warehouse.get_connection() as con:
        plan = changes.plan(con, settings)
    previous = plan.previous.get("dbt", {})
    before = previous.get("dbt project")
    removed = changes.tables_with_rows_removed(previous, plan.inputs["dbt"])
    args = ["build", "--exclude-resource-type", "unit_test"]
    if before is not None and before != plan.inputs["dbt"]["dbt project"]:
        context.log.info("the dbt project changed since the last build: --full-refresh")
        args.append("--full-refresh")
    elif removed:
        context.log.info(f"rows were removed from {', '.join(removed)} since the last build: --full-refresh")
        args.append("--full-refresh")
    # Unit tests check SQL logic on fixed rows, not data: they run in CI (`make test` runs a full
    # `dbt build`), not on every pipeline run, as dbt recommends.
    target = _new_target(
        settings.dbt_target_dir, f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}"
    )
    invocation = dbt.cli(args, context=context, target_path=target)
    try:
        yield from invocation.stream()
    finally:
        try:
            _keep_parsed_project(invocation.target_path)
        except OSError as error:  # only the next step's start-up is at stake: never hide the build's error
            context.log.warning(f"parsed project not kept for the next dbt step: {error}")
        # Also after a failed build (the stream raises once dbt exits non-zero): that is when the
        # failing rows are wanted. Never in place of the build's own error.
        try:
            _store_failures(context, dbt, invocation, warehouse)
        except Exception as error:
            context.log.warning(f"failing rows not stored: {error}")
    # Only a whole build is remembered: a subset selected in the UI leaves the state as it was.
    if not context.is_subset:
        with warehouse.get_connection() as con:
            changes.record(con, "dbt", plan.inputs["dbt"], context.run.run_id)


def _store_failures(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    invocation: DbtCliInvocation,
    warehouse: WarehouseResource,
) -> None:
    """Keep the failing rows of the tests that failed or warned in ``test_failures``, and only theirs.

    Storing every test's failures (``store_failures`` in the project) costs a view, a drop and a
    commit per test whether it passes or not: 11 s of a 40 s build at 100,000 customers. So the
    build stores nothing, and the few tests that did not pass run again with ``--store-failures``
    (one table of failing rows each, as dbt makes them). A table left by an earlier run for a test
    that passed this time is dropped: ``test_failures`` holds what is failing now.
    """
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except Exception as error:  # dbt stopped before writing its results: nothing ran to keep
        context.log.warning(f"failing rows not stored: no run results ({error})")
        return
    tests = {r["unique_id"].split(".")[2]: r["status"] for r in results if r["unique_id"].startswith("test.")}
    failing = sorted(name for name, status in tests.items() if status in ("fail", "warn"))
    passed = [name for name, status in tests.items() if status == "pass"]
    with warehouse.get_connection() as con:
        # Views too: before 2026-11-29 every test kept its rows in a view.
        stored = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables where table_schema = ?",
                [failures.FAILURES_SCHEMA],
            ).fetchall()
        )
        for name in sorted(stored.keys() & set(passed)):
            kind = "view" if stored[name] == "VIEW" else "table"
            con.execute(f'drop {kind} if exists {failures.FAILURES_SCHEMA}."{name}"')
    if not failing:
        return
    scratch = invocation.target_path / "store_failures"
    scratch.mkdir(exist_ok=True)
    parsed = invocation.target_path / PARSED_PROJECT
    if parsed.exists():  # parse once: the project is the one the build just parsed
        shutil.copyfile(parsed, scratch / parsed.name)
    rerun = dbt.cli(
        ["test", "--store-failures", "--select", *failing], target_path=scratch, raise_on_error=False
    ).wait()
    if rerun.process.returncode > 1:  # 1: the tests failed again, as expected
        context.log.warning(
            f"failing rows not stored: dbt test --store-failures exited {rerun.process.returncode}"
        )
    else:
        context.log.info(f"failing rows of {len(failing)} test(s) kept in schema {failures.FAILURES_SCHEMA}")


def _new_target(root: Path, name: str) -> Path:
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


def built_project_artifacts(root: Path | None = None, project: DbtProject = dbt_project) -> Path | None:
    """The target folder of the last ``dbt build`` in ``root`` (this data folder's dbt folder), if it
    describes the project as it is now.

    Its ``manifest.json`` holds every built model's compiled SQL and its ``partial_parse.msgpack``
    the parsed project, so ``dbt docs generate --no-compile`` from a copy of them only queries the
    catalog: 4.6 s instead of 26.5 s at 100,000 customers (measured on a copy of that warehouse
    while another benchmark ran). None when no build left one, the project changed since, or the
    build was a subset (models it did not build have no compiled SQL to show).
    """
    root = root or get_settings().dbt_target_dir
    folders = [f for f in root.glob("cdp_dbt_models-*") if (f / "manifest.json").exists()]
    if not folders:
        return None
    newest = max(folders, key=lambda f: (f / "manifest.json").stat().st_mtime)
    if (newest / "manifest.json").stat().st_mtime < _newest_input(project):
        return None
    nodes = json.loads((newest / "manifest.json").read_text())["nodes"].values()
    if not all(node.get("compiled_code") for node in nodes if node["resource_type"] == "model"):
        return None
    return newest


def _keep_parsed_project(target: Path) -> None:
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


defs = dg.Definitions(assets=[cdp_dbt_models])
