"""``cdp identity train``, ``eval`` and ``explain``: fit the Splink model to your records, score
the customer ids against a truth file, and say why two records are one customer or two; ``merge``,
``split``, ``decisions``, ``review`` and ``approve``: a data steward's corrections; ``range``: the
headline KPIs at a stricter and a looser match threshold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestration.cli.warehouse import open_warehouse
from orchestration.settings import get_settings

if TYPE_CHECKING:
    from orchestration.identity import CustomerCounts


def train() -> None:
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


def evaluate(
    truth: Annotated[
        Path | None,
        typer.Option(
            help="CSV with source_system, source_record_id, person_id [default: truth/identities.csv]."
        ),
    ] = None,
    reference: Annotated[
        bool, typer.Option(help="Also fit plain Splink on the same records and print its row (a minute).")
    ] = False,
) -> None:
    """Pairwise and B-cubed precision/recall/F1 of the current customer ids, next to the baseline
    (and, with --reference, next to plain Splink fitted on the same records: the yardstick); the
    customer count against the number of people and the fewest customers the evidence allows."""
    from orchestration.identity import evaluate_warehouse

    settings = get_settings()
    truth_file = (truth or settings.truth_identities_file).resolve()
    if not truth_file.exists():
        typer.echo(f"No truth file at {truth_file}.", err=True)
        raise typer.Exit(2)
    evaluation = evaluate_warehouse(settings.warehouse_path, truth_file)
    model, baseline = evaluation.model, evaluation.baseline
    missed, blocking = evaluation.missed, evaluation.blocking
    typer.echo(f"Truth: {truth_file} ({model.records:,} records scored)")
    typer.echo(f"{'':34}{'pairwise P':>11}{'R':>8}{'F1':>8}{'B3 P':>8}{'R':>8}{'F1':>8}")
    rows = [("customer_id (this pipeline)", model), ("baseline: exact e-mail or phone", baseline)]
    if reference:
        from orchestration.identity import Scores, plain_splink

        scores = plain_splink(settings.warehouse_path, truth_file, settings.duckdb_threads).scores or {}
        rows.append(("reference: plain Splink", Scores(**scores)))
    for name, s in rows:
        typer.echo(
            f"{name:34}{s.pairwise_precision:>11.4f}{s.pairwise_recall:>8.4f}{s.pairwise_f1:>8.4f}"
            f"{s.bcubed_precision:>8.4f}{s.bcubed_recall:>8.4f}{s.bcubed_f1:>8.4f}"
        )
    typer.echo("\n" + customer_count_line(evaluation.counts))
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


def customer_count_line(counts: CustomerCounts) -> str:
    """The customer count next to the number of people and the evidence limit (the fewest customers
    the identifiers shared within each person allow), in two sentences."""

    def above(n: int, reference: int) -> str:
        return f"{(n - reference) / reference:+.1%}" if reference else "n/a"

    return (
        f"Customers: {counts.customers:,} for {counts.people:,} people "
        f"({above(counts.customers, counts.people)}); {counts.people_split:,} people split across "
        f"customer ids, {counts.ids_merging_people:,} customer ids holding several people.\n"
        f"Evidence limit: {counts.evidence_limit:,} customers (the count is "
        f"{above(counts.customers, counts.evidence_limit)} from it), joining every two parts of a "
        f"person that share an identifier (e-mail or phone within one typo, birth date, address, "
        f"loyalty card, account); {counts.evidence_limit_with_full_names:,} joining shared full "
        f"names too."
    )


def explain(
    record_a: Annotated[str, typer.Argument(help="A record id: source_system:source_record_id.")],
    record_b: Annotated[str, typer.Argument(help="Another record id.")],
) -> None:
    """Why two records are one customer or two, and which rule decided (read-only).

    Their attributes side by side, whether a blocking rule compared them, their score against the
    threshold, the links between them and what refused them, or the path that joins them.
    """
    from orchestration.identity import load_identity_settings
    from orchestration.identity.explain import NotResolved, UnknownRecord, explain_pair, report_lines
    from orchestration.identity.model import MODEL_PATH

    settings = get_settings()
    if not settings.warehouse_path.exists():
        typer.echo(f"No warehouse at {settings.warehouse_path}: run `cdp run` first.", err=True)
        raise typer.Exit(2)
    try:
        explanation = explain_pair(
            settings.warehouse_path,
            record_a,
            record_b,
            load_identity_settings(),
            (settings.trained_model_path, MODEL_PATH),
        )
    except (UnknownRecord, NotResolved) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e
    for line in report_lines(explanation):
        typer.echo(line)


# --- Steward decisions --------------------------------------------------------------------------

_NAMED = "A customer id, or a record id (source_system:source_record_id)."
Why = Annotated[str, typer.Option("--why", help="Why: kept with the decision, for the audit.")]
By = Annotated[str | None, typer.Option("--by", help="Who decides [default: the system user].")]


@contextmanager
def _exit_on_bad_decision() -> Iterator[None]:
    """A decision that cannot be made or read ends the command with its message and exit code 2."""
    from orchestration.identity.decisions import DecisionError

    try:
        yield
    except DecisionError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error


def _decide(kind: str, a: str, b: str, why: str, by: str | None) -> None:
    """Record a decision between ``a`` (records or a customer, comma-separated) and ``b``."""
    from orchestration.identity.decisions import decide

    settings = get_settings()
    with closing(open_warehouse(settings)) as con, _exit_on_bad_decision():
        decision = decide(con, settings.steward_decisions_path, kind, a.split(","), b, why, by)
    what = "one customer" if kind == "must_link" else "kept apart"
    typer.echo(
        f"{decision.decision_id}: {decision.named_a} and {decision.named_b} {what} "
        f"({len(decision.side_a)} + {len(decision.side_b)} records), by {decision.decided_by}. "
        "The next `cdp run` applies it; `cdp identity decisions list` lists the decisions."
    )


def merge(
    a: Annotated[str, typer.Argument(help=_NAMED)],
    b: Annotated[str, typer.Argument(help=_NAMED)],
    why: Why,
    by: By = None,
) -> None:
    """Make A and B one customer (a must-link), whatever the model and its guards say.

    Two customers: their anchors (smallest records) are linked, their other records follow the
    evidence; the older customer id survives, the other is recorded as merged into it."""
    _decide("must_link", a, b, why, by)


def split(
    a: Annotated[str, typer.Argument(help=_NAMED + " Several records: comma-separated.")],
    b: Annotated[str, typer.Argument(help=_NAMED)],
    why: Why,
    by: By = None,
) -> None:
    """Keep A and B apart for good (a cannot-link): no link joins them, not even an exact identifier.

    `split pos_tickets:T1,crm_contacts:X9 C0123456789ab` takes these records out of that customer:
    the part holding most of its records keeps the id, the other gets a new one."""
    _decide("cannot_link", a, b, why, by)


def decisions_list(
    every: Annotated[bool, typer.Option("--all", help="Revoked decisions too.")] = False,
) -> None:
    """The steward's decisions in force (with --all, revoked ones too): what, who, when, why."""
    from orchestration.identity.decisions import read_decisions

    settings = get_settings()
    with _exit_on_bad_decision():
        decisions = read_decisions(settings.steward_decisions_path)
    shown = decisions.items if every else decisions.active
    if not shown:
        typer.echo(f"No decision{'' if every else ' in force'} ({settings.steward_decisions_path}).")
        return
    for d in shown:
        kind = "merge" if d.kind == "must_link" else "split"
        typer.echo(f"{d.decision_id}  {kind}  {d.named_a}  |  {d.named_b}")
        typer.echo(f"      by {d.decided_by} at {d.decided_at}: {d.why}")
        if not d.active:
            typer.echo(f"      revoked by {d.revoked_by} at {d.revoked_at}: {d.revoked_why}")


def decisions_revoke(
    decision_id: Annotated[str, typer.Argument(help="The decision, e.g. D3.")],
    why: Why,
    by: By = None,
) -> None:
    """Revoke a decision: the next `cdp run` clusters its records as the model says."""
    from orchestration.identity.decisions import revoke

    with _exit_on_bad_decision():
        decision = revoke(get_settings().steward_decisions_path, decision_id, why, by)
    typer.echo(f"{decision.decision_id} revoked by {decision.revoked_by}; the next `cdp run` applies it.")


def review(
    apply: Annotated[
        Path | None, typer.Option("--apply", help="A filled review.csv: its answers become decisions.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many pairs the queue holds.")] = 100,
    out: Annotated[
        Path | None, typer.Option(help="Folder of the queue [default: serving/identity/review].")
    ] = None,
    by: By = None,
) -> None:
    """The review queue: the pairs the model is least sure of, the costliest first, as review.html
    (records side by side, the comparison levels reached, match weights, a waterfall) and
    review.csv to answer (accept, reject or skip); with --apply, a filled review.csv turned into
    decisions the next `cdp run` applies. Both files hold personal data in clear (mode 600)."""
    from orchestration.identity import load_identity_settings
    from orchestration.identity.model import MODEL_PATH
    from orchestration.identity.review import apply_answers, review_queue, write_review

    settings = get_settings()
    with closing(open_warehouse(settings)) as con, _exit_on_bad_decision():
        if apply is not None:
            applied = apply_answers(con, settings.steward_decisions_path, apply, by)
        else:
            threshold = load_identity_settings().match_probability
            pairs = review_queue(con, threshold, limit, models=(settings.trained_model_path, MODEL_PATH))
    if apply is not None:
        for line in applied.refused:
            typer.echo(f"not recorded: {line}", err=True)
        typer.echo(
            f"{len(applied.decisions)} decision(s) recorded ({', '.join(applied.decisions) or 'none'}), "
            f"{applied.skipped} skipped, {len(applied.refused)} not recorded; "
            "the next `cdp run` applies them."
        )
        return
    page, table = write_review(pairs, out or settings.identity_report_dir / "review", threshold)
    for path in (page, table):
        path.chmod(0o600)
    typer.echo(
        f"{len(pairs)} pair(s) to review: {page} (answer in {table}, then `cdp identity review --apply`)"
    )


def approve(why: Why, by: By = None) -> None:
    """Approve publishing what this warehouse's customer ids change against the last publication
    (the merge-impact preview a run held back above CDP_IDENTITY_IMPACT_LIMIT), then run the pipeline,
    which publishes. The approval holds for this exact change: a later one asks again."""
    from orchestration.cli.pipeline import execute
    from orchestration.identity.decisions import steward
    from orchestration.serving import impact

    settings = get_settings()
    with closing(open_warehouse(settings, read_only=False)) as con:
        current = impact.preview(con, settings.published_marts_path)
        if current.first_publication:
            typer.echo("Nothing to approve: nothing was published yet (the first publication never waits).")
            return
        impact.approve(con, current, by or steward(), why)
    typer.echo(f"Approved: {current.describe()}. Publishing:")
    execute("full_pipeline", "cdp identity approve")


def kpi_range() -> None:
    """The headline KPIs of the last closed period (customers, new and active customers, 12-month
    retention, multichannel and omnichannel rates) with customers clustered at a stricter and a
    looser match threshold (identity.yml kpi_range), beside the published ones: how much each
    figure depends on identity decisions. Runs the job identity_kpi_range (weekly by schedule);
    the KPI report shows the last range."""
    from orchestration.cli.pipeline import execute
    from orchestration.serving.kpi_range import read_last

    execute("identity_kpi_range", "cdp identity range")
    said = read_last(get_settings().serving_dir)
    if said is None:  # the job succeeded (execute exits otherwise), so it wrote the file
        raise typer.Exit(1)
    typer.echo(f"Identity KPI range, period {said.period} (computed {said.computed_at}):")
    for row in [said.header(), *said.shown_rows()]:
        typer.echo(f"  {row[0]:<20}" + "".join(f"{cell:>22}" for cell in row[1:]))
