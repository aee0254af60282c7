"""dbt models as Dagster assets (dagster-dbt), grouped by dbt folder, dbt tests as asset checks.

The dbt project lives in ``dbt_project/`` (``orchestration/lib/dbt.py``: its inputs, manifest and
CLI resource). Sources carry ``meta.dagster.asset_key`` so each one is the raw or identity asset
that writes it, and lineage runs unbroken from landing files to marts.
"""

import shutil
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from orchestration.defs.automation import WRITE_TAGS
from orchestration.defs.common import OWNERS, WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.lib.dbt import dbt_project, ensure_manifest
from orchestration.lib.dbt_project import (
    BUILD_STEP,
    PARSED_PROJECT,
    drop_orphaned_models,
    keep_parsed_project,
    new_target,
)
from orchestration.quality import failures
from orchestration.runtime import changes
from orchestration.settings import get_settings


class CdpDbtTranslator(DagsterDbtTranslator):
    """Keys ``<schema>/<model>`` (``marts/dim_customers``), groups by folder, our owners."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey([dbt_resource_props["config"]["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # fqn = [project, folder, subfolder..., model]: staging/pos → "staging_pos". Seeds sit
        # at the top of seeds/: they are the business-edited reference data. A snapshot's fqn
        # repeats its file name ([project, file, snapshot]): they are one group, their schema's.
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        if dbt_resource_props["resource_type"] == "snapshot":
            return "snapshots"
        return "_".join(dbt_resource_props["fqn"][1:-1]) or None

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        layer = {"seed": "reference", "snapshot": "snapshots"}.get(
            dbt_resource_props["resource_type"], dbt_resource_props["fqn"][1]
        )
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
    successful build (``orchestration/runtime/changes.py``), they are rebuilt with ``--full-refresh``, since
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
    if before is not None and before == plan.inputs["dbt"]["dbt project"]:
        # Seeds are files of the project: unchanged since the last whole build, the tests written
        # on them (seeds/_seeds.yml: 101 of about 400, a fixed 4-5 s a day) would find what that
        # build found. The seeds are still loaded (cheap), so that every asset downstream of
        # them runs; tests written on models that read a seed still run.
        context.log.info("the dbt project is as the last build left it: the seeds' own tests not run again")
        args += ["--exclude", "test_type:generic,path:seeds"]
    # Unit tests check SQL logic on fixed rows, not data: they run in CI (`make test` runs a full
    # `dbt build`), not on every pipeline run, as dbt recommends.
    target = new_target(settings.dbt_target_dir, f"{BUILD_STEP}-{context.run.run_id[:7]}")
    invocation = dbt.cli(args, context=context, target_path=target)
    try:
        yield from invocation.stream()
    finally:
        try:
            keep_parsed_project(invocation.target_path)
        except OSError as error:  # only the next step's start-up is at stake: never hide the build's error
            context.log.warning(f"parsed project not kept for the next dbt step: {error}")
        # Also after a failed build (the stream raises once dbt exits non-zero): that is when the
        # failing rows are wanted. Never in place of the build's own error.
        try:
            _store_failures(context, dbt, invocation, warehouse)
        except Exception as error:
            context.log.warning(f"failing rows not stored: {error}")
    # Only a whole build is remembered: a subset selected in the UI leaves the state as it was.
    # Its manifest describes the whole project, so tables of models renamed or removed since go.
    if not context.is_subset:
        with warehouse.get_connection() as con:
            dropped = drop_orphaned_models(con, invocation.get_artifact("manifest.json"))
            changes.record(con, "dbt", plan.inputs["dbt"], context.run.run_id)
        if dropped:
            context.log.info(f"dropped what no dbt model builds any more: {', '.join(dropped)}")


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
        failures.drop_stored(con, passed)
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


# A build tests the rows it wrote (customer-grain models: the customers whose inputs changed;
# docs/dbt.md, "Tests of a day"). Every row is tested weekly and on demand (`cdp check --all`).
ALL_ROWS_VARS = '{"test_scope": "all"}'


@dg.op(
    name="dbt_test_every_row",
    description="Every dbt data test on every row of the warehouse as it is (a build tests the rows "
    "it wrote); materializes nothing. Fails when a test of severity error fails.",
    pool=WAREHOUSE_POOL,
)
def dbt_test_every_row(context: dg.OpExecutionContext, dbt: DbtCliResource) -> dg.Output[int]:
    """``dbt test --vars '{test_scope: all}'``: what a daily build scopes to its rows, on all of them.

    The failures are the dbt log's lines (names, counts) in the step's output and metadata; by hand,
    ``dbt test --store-failures --select <test> --vars '{test_scope: all}'`` keeps their rows.
    """
    settings = get_settings()
    target = new_target(settings.dbt_target_dir, f"full-tests-{context.run.run_id[:7]}")
    invocation = dbt.cli(
        ["test", "--exclude-resource-type", "unit_test", "--vars", ALL_ROWS_VARS],
        target_path=target,
        raise_on_error=False,
    ).wait()
    results = invocation.get_artifact("run_results.json")["results"]
    failed = sorted(r["unique_id"].split(".")[2] for r in results if r["status"] in ("fail", "error"))
    warned = sorted(r["unique_id"].split(".")[2] for r in results if r["status"] == "warn")
    metadata = {
        "tests": len(results),
        "failed": ", ".join(failed) or "none",
        "warned": ", ".join(warned) or "none",
    }
    for name in failed:
        context.log.error(f"dbt test failed on every row: {name}")
    if failed:
        raise dg.Failure(
            f"{len(failed)} of {len(results)} dbt test(s) failed on every row: {', '.join(failed)}",
            metadata=metadata,
        )
    return dg.Output(len(results), metadata=metadata)


@dg.job(
    name="dbt_tests_every_row",
    description="Every dbt data test on every row (daily builds test the rows they wrote).",
    tags=WRITE_TAGS,
)
def dbt_tests_every_row_job() -> None:
    dbt_test_every_row()


@dg.schedule(
    name="weekly_dbt_tests_every_row",
    job=dbt_tests_every_row_job,
    cron_schedule="0 6 * * 0",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every Sunday at 06:00 Paris time, every dbt data test on every row (a daily build "
    "tests only the rows it wrote).",
)
def weekly_dbt_tests_every_row(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest()


defs = dg.Definitions(
    assets=[cdp_dbt_models], jobs=[dbt_tests_every_row_job], schedules=[weekly_dbt_tests_every_row]
)
