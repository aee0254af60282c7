"""``cdp run``, ``cdp check`` and ``cdp dev``: the pipeline in-process on the local Dagster instance,
and its UI on the same instance."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer

from orchestration.settings import REPO_ROOT, RUN_ID_ENV, get_settings


def run(
    job: Annotated[
        str, typer.Option(help="Job to run: full_pipeline, ingest_landing_files or quality_checks.")
    ] = "full_pipeline",
    full_identity: Annotated[
        bool,
        typer.Option(
            help="Re-resolve every identity record instead of only new and changed ones (it also "
            "happens by itself when the identity settings, model or code changed)."
        ),
    ] = False,
) -> None:
    """Materialize every asset in-process (what `make run` does after setup).

    With no new landing file and nothing changed since the last successful run (raw tables,
    identity settings, model and code, dbt project, serving settings: orchestration/runtime/changes.py),
    it says so in one line and does nothing."""
    if job == "full_pipeline" and not full_identity:
        from orchestration.runtime.changes import nothing_to_do

        line = nothing_to_do(get_settings())
        if line:
            typer.echo(line)
            return
    config = {"ops": {"identity_resolution": {"config": {"full_identity": True}}}} if full_identity else {}
    execute(job, "cdp run", config)


def check(
    all_tests: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Also run every dbt data test on every row (a pipeline run tests the rows it "
            "wrote; every row is tested weekly too).",
        ),
    ] = False,
) -> None:
    """Run every data quality check (GX suites, raw reconciliation) on the warehouse as it is.

    Materializes nothing; results in the output, in the Dagster UI's run history and in
    serving/quality/index.html. Exits 1 when a critical check fails.
    """
    if not all_tests:
        execute("quality_checks", "cdp check")
        return
    try:
        execute("quality_checks", "cdp check --all")
    finally:  # the dbt tests also when a GX check failed: one command, every finding
        execute("dbt_tests_every_row", "cdp check --all")


def execute(job: str, launched_by: str, run_config: dict | None = None) -> None:
    """Run ``job`` in-process on the local instance; list failed checks; exit 1 on failure."""
    from orchestration.definitions import build_definitions
    from orchestration.quality.failures import failing_rows, files_not_loaded
    from orchestration.runtime.instance import ensure_instance, process_tags, recover_dead_runs
    from orchestration.runtime.progress import root_cause, stopped_by_check
    from orchestration.runtime.run_log import run_log_path, third_party_output_to

    settings = get_settings()
    instance = ensure_instance(settings)
    # A killed run left its pool slot claimed: without this, this run would wait for it forever.
    for line in recover_dead_runs(instance, settings):
        typer.echo(line)
    run_id = str(uuid.uuid4())
    os.environ[RUN_ID_ENV] = run_id  # inherited by dbt: the next run can stop it if this one is killed
    typer.echo(f"Running job {job} on {settings.warehouse_path}")
    started = time.monotonic()
    # Definitions built now, not at import: their resources read CDP_DATA_DIR as it is now (a
    # command invoked in-process, by a test or another command, may have changed it since).
    job_def = build_definitions().resolve_job_def(job)
    # dbt's log lines and Splink's, GX's and Python's warnings go to the run's log file, not
    # between our lines (orchestration/runtime/run_log.py).
    with third_party_output_to(run_log_path(settings.data_dir, run_id)) as log_path:
        result = job_def.execute_in_process(
            instance=instance,
            run_config={"loggers": {"progress": {}}, **(run_config or {})},
            run_id=run_id,
            tags={"cdp/warehouse": "write", "cdp/launched_by": launched_by, **process_tags()},
            raise_on_error=False,
        )
    elapsed = time.monotonic() - started
    failed_checks = [c for c in result.get_asset_check_evaluations() if not c.passed]
    errors = [c for c in failed_checks if c.severity.value == "ERROR"]
    typer.echo("")
    # One line per failed check: a GX check's description says what, where and what to do; a dbt
    # test's names its first failing row (the others are in test_failures.<test>).
    for check in failed_checks:
        severity = "critical" if check.severity.value == "ERROR" else "warning"
        name = f"{check.asset_key.to_user_string()}:{check.check_name}"
        # A GX message opens with the asset ("raw.crm_contacts: …"), which the check's name holds.
        said = (check.description or "").removeprefix(".".join(check.asset_key.path) + ": ")
        line = f"{name}: {said}" if said else name
        rows = failing_rows(settings.warehouse_path, check.check_name, limit=1)
        if rows is not None and rows.total:
            line += f"; {rows.total} failing row(s) in test_failures.{rows.test}, e.g. {rows.lines[0]}"
        typer.echo(f"check failed ({severity}): {' '.join(line.split())}", err=True)
    for status, path, why in files_not_loaded(settings.warehouse_path, result.run_id):
        typer.echo(f"not loaded ({status}): {why or path}", err=True)
    stopped = 0
    for event in result.all_events:
        if event.is_step_failure:
            if stopped_by_check(event.step_failure_data.error):
                stopped += 1
                continue
            typer.echo(
                f"step failed: {event.step_key}: {root_cause(event.step_failure_data.error)}", err=True
            )
    if stopped:
        typer.echo(
            f"{stopped} step(s) did not run: a critical check above failed upstream of them.", err=True
        )
    if log_path.exists() and log_path.stat().st_size:
        typer.echo(f"dbt's log and the libraries' warnings (Splink, Great Expectations): {log_path}")
    if not result.success or errors:
        typer.echo(f"Run {result.run_id} FAILED after {elapsed:.0f} s.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Run {result.run_id} succeeded in {elapsed:.0f} s.")
    typer.echo(f"  warehouse : {settings.warehouse_path}")
    typer.echo(
        f"  quarantine: raw.quarantine_rows, raw.load_log (status = 'quarantined'), {settings.quarantine_dir}"
    )
    typer.echo(f"  BI        : {settings.published_marts_path} (read-only), {settings.parquet_dir}/")
    typer.echo(f"  report    : {settings.report_dir / 'index.html'}")
    typer.echo(f"  quality   : {settings.quality_dir / 'index.html'}")
    typer.echo(f"  dbt docs  : {settings.dbt_docs_dir / 'index.html'}")
    typer.echo("  Dagster UI: `make dev`, then open http://127.0.0.1:3000 (this run is in its history)")


def dev(port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000) -> None:
    """Start the Dagster UI and daemon (sensor, schedule, run queue) on workspace.yaml."""
    from orchestration.runtime.instance import ensure_instance, recover_dead_runs

    settings = get_settings()
    instance = ensure_instance(settings)
    # A run killed earlier would keep its pool slot and block every run launched from the UI.
    for line in recover_dead_runs(instance, settings):
        typer.echo(line)
    dagster = Path(sys.executable).parent / "dagster"
    os.execv(
        str(dagster),
        [
            str(dagster),
            "dev",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
    )
