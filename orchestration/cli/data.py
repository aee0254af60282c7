"""``cdp generate``, ``cdp inspect`` and ``cdp unload``: sample exports to try the pipeline on, how
one of your files would load before you deliver it, and taking a bad delivery back out."""

from __future__ import annotations

import getpass
import resource
import shutil
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from orchestration.settings import get_settings


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
            help="Yearly hazard of a customer lapsing (0.35: 30 % lapse a year); arrivals keep "
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
    gzip: Annotated[
        bool,
        typer.Option(
            help="Write every landing file gzip-compressed (contacts_2026-10.csv.gz; the truth stays "
            "plain): same records, a fraction of the bytes on disk; ingestion reads them as they are."
        ),
    ] = False,
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
        gzip=gzip,
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
    landing_bytes = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    typer.echo(f"Landing files: {landing_bytes / 1e6:,.1f} MB{' (gzip)' if gzip else ''}")
    typer.echo(f"Ground truth in {truth_dir}")


def inspect(
    file: Annotated[Path, typer.Argument(help="The export file to try.", exists=True, dir_okay=False)],
    table: Annotated[
        str | None, typer.Option(help="Raw table it belongs to [default: found from its name and folder].")
    ] = None,
) -> None:
    """Preview how FILE would load (mapping file applied): columns matched, the first rows, what
    would be quarantined and why, and the blocking quality checks a run would stop on (file, line,
    value). Writes nothing: the warehouse is never opened. Exit code 1 when the run would not
    load it or would stop on it."""
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
    for warning in [n for n in (r.note or "").split("; ") if n.startswith("WARNING")]:
        typer.echo(warning)
    if report.blocking:
        typer.echo(
            f"blocking checks of raw.{report.table} (a run stops on these): "
            f"{len(report.blocking) - len(report.failed)} of {len(report.blocking)} would pass"
        )
    for check, says in report.failed:
        typer.echo(f"would FAIL blocking check {check}: {says}")
    if r.status == "quarantined" or report.failed:
        raise typer.Exit(1)


def unload(
    file: Annotated[
        str,
        typer.Argument(
            help="The delivered file: its path, or as the load log names it (ecommerce/customers_x.csv); "
            "it may already be gone from landing/."
        ),
    ],
    by: Annotated[
        str | None, typer.Option(help="Who asks, for the load log [default: your user name].")
    ] = None,
) -> None:
    """Retire a delivered file: delete its rows from raw and raw.quarantine_rows and keep it in
    raw.load_log as `retired` (who, when). The file is not read again while it stays in landing/;
    a corrected file loads. The next `cdp run` derives identity and the marts again without its
    rows. Exit code 2 when no loaded file has that name."""
    from orchestration.defs.resources import build_resources
    from orchestration.ingest.unload import UnloadError
    from orchestration.ingest.unload import unload as retire

    settings = get_settings()
    if not settings.warehouse_path.exists():
        typer.echo(f"No warehouse at {settings.warehouse_path}: nothing loaded.", err=True)
        raise typer.Exit(2)
    try:
        with build_resources(settings)["warehouse"].get_connection() as con:
            done = retire(con, file, settings.landing_dir, by or getpass.getuser())
    except UnloadError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(done.describe())
    typer.echo("The next `cdp run` derives identity and the marts again without them.")
