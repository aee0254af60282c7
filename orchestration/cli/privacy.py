"""``cdp privacy export | erase | retention``: privacy requests, each ending in a pipeline run where
the warehouse changed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestration.cli.pipeline import execute
from orchestration.cli.warehouse import open_warehouse
from orchestration.settings import get_settings

if TYPE_CHECKING:  # imported where used: `cdp --help` stays fast
    import duckdb

    from orchestration.privacy.subject import Subject


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
    from orchestration.privacy.access import collect, write_export

    settings = get_settings()
    con = open_warehouse(settings)
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
    execute("full_pipeline", f"cdp privacy erase ({erasure.request_id})")


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
    execute("full_pipeline", f"cdp privacy retention ({erasure.request_id})")
