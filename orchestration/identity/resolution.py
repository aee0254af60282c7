"""Identity resolution: standardise → deterministic links → Splink → constrained merging.

The Splink model is planned from the fields the records populate (``model.ModelPlan``), trained on
this warehouse's records when there is none yet (``train``), and its prior is re-estimated and
refined on every run (``scoring.refine_prior``). Settings come from ``identity.yml`` (``config``); the
reference is docs/identity.md.

Writes, in the warehouse's ``identity`` schema:

- ``records``: standardised identity-bearing records (``standardise``);
- ``first_name_variants``: the first-name dictionary, standardised;
- ``blocking_keys``: every capped blocking key of every named record (what the rules compare,
  ``splink_inputs``);
- ``deterministic_edges``: exact links (``links``);
- ``scored_edges``: every pair Splink scored above ``IdentitySettings.scored_floor``, with match
  weight, probability and the level of each comparison (the "why" of every probabilistic merge);
- ``edges``: every link considered (deterministic, probabilistic, attached), with ``guard`` saying
  why a link was refused (null when it was used);
- ``clusters``: ``unique_id → cluster_id`` (an unstable label), before stable ids;
- ``flagged_clusters``, ``attachment_values`` and ``connected_parts`` (``cluster``);
- ``resolution_state`` and ``raw_batches``: what this resolution was made with and read, for the
  next run to build on it (``incremental``).

A run is incremental when it can (``incremental``): it standardises only the records of new
deliveries, scores only the pairs of new or changed records and keeps the other scored pairs, and
clusters again only the part of the records those changes touch (``cluster_increment``),
keeping every other cluster.

A run reads as its stages (``_resolve``): begin (full or incremental, and why), standardise, link
(exact links, Splink inputs, the model, scoring), cluster, keep the state. Whether the run is full
is decided before any work and confirmed once, when the model and the plan are known (``_Run``).

Over-merge guards, applied to probabilistic and attached links only (deterministic ones are
trusted):

- placeholders never reach matching (standardisation turns them into NULL);
- a scored pair whose first names cannot be one person's (``cdp_names_compatible``) is not used:
  it is the signature of household members sharing an address or an e-mail; unless the two
  records give the same mobile number, which a household does not share (a nickname: Tom, Thomas);
- links join clusters strongest first and never two clusters that contradict each other
  (``merge``, policies in ``identity.yml``: different phones; different birth dates unless the link's
  own records were scored with both; a record without first name between two first names), so a
  chain through a record that lacks those values cannot glue two people together;
- two clusters that alone share an e-mail or a mobile number are linked only when all their names
  using it are compatible (``cluster._link_by_shared_identifier``);
- a cluster above ``max_cluster_size`` records is flagged in ``identity.flagged_clusters`` and falls
  back to its deterministic links only: it is not silently merged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from splink import Linker

from orchestration.identity import decisions, incremental, model, scoring, train
from orchestration.identity.cluster import Clustering, cluster_all
from orchestration.identity.cluster_increment import can_cluster_part, cluster_part
from orchestration.identity.config import IdentitySettings, load_identity_settings
from orchestration.identity.links import build_deterministic_edges
from orchestration.identity.splink_inputs import (
    Inputs,
    StoredPlan,
    linker_over,
    plan_state,
    prepare_inputs,
    read_plan_state,
)
from orchestration.identity.stable_ids import stable_ids_settled
from orchestration.identity.standardise import (
    READ_TABLES,
    build_identity_records,
    records_unchanged,
    update_identity_records,
)
from orchestration.identity.timing import Steps

# Intermediate tables (ours and Splink's) live here and are dropped after every run, so the
# warehouse keeps only the ``identity`` outputs and does not grow with each run.
WORK_SCHEMA = "identity_work"


@dataclass(frozen=True)
class ResolutionConfig:
    """One run's resolution: the user's identity settings, the model files, and what to do."""

    identity: IdentitySettings = field(default_factory=load_identity_settings)
    retrain: bool = False
    # The model trained on this warehouse's records (CDP_DATA_DIR/identity/model.json): preferred,
    # and where training writes. None: training writes over ``shipped_model`` (developers only).
    trained_model: Path | None = None
    shipped_model: Path = model.MODEL_PATH
    # Where training writes its report (serving/identity/); None: no report.
    report_dir: Path | None = None
    # The steward's decisions (CDP_DATA_DIR/identity/steward_decisions.jsonl); None: none.
    decisions_file: Path | None = None

    def decisions(self) -> decisions.Decisions:
        """The steward's decisions in force (none without a file)."""
        if self.decisions_file is None:
            return decisions.Decisions(Path("(none)"))
        return decisions.read_decisions(self.decisions_file)


@dataclass
class ResolutionResult:
    records: int
    deterministic_edges: int
    scored_pairs: int
    probabilistic_edges: int
    guarded_edges: int
    flagged_clusters: int
    trained: bool
    # Wall seconds per stage (standardise, train when it ran, link, cluster): what `cdp bench` reports.
    seconds: dict[str, float] = field(default_factory=dict)
    # Which model was used and why; how the prior was obtained; what the data supports.
    model_source: str = ""
    prior: str = ""
    plan: dict = field(default_factory=dict)
    # Pairs each blocking rule compares on its own (rules overlap: the same pair may count twice).
    comparisons_per_rule: dict[str, int] = field(default_factory=dict)
    # "full" or "incremental", and why in one line ("full: identity settings changed (…)",
    # "incremental: 1,234 new or changed records of 412,771 (…)").
    mode: str = "full"
    mode_reason: str = ""
    # Identity records new or changed since the previous resolution (None: a full run knows no
    # previous one, or did not look); and the pairs this run scored (an increment: only pairs with
    # at least one new or changed named record).
    changed_records: int | None = None
    pairs_scored_this_run: int = 0
    # Seconds of Splink scoring, part of ``seconds["link"]``: prior, predict and refinement (full),
    # or the pairs of new and changed records (incremental).
    score_seconds: float = 0.0
    # Wall seconds of each step, in the order they ran (finer than ``seconds``): what a profile reads.
    steps: dict[str, float] = field(default_factory=dict)
    # Records clustered this run: all of them (full), or the part a day's changes touched.
    clustered_records: int = 0
    # How blocking spent its pair budget, and the share of expected matches several rules find
    # (splink_inputs.Blocking, scoring.blocking_redundancy).
    blocking: dict = field(default_factory=dict)
    # Each active steward decision: (id, kind, holds, note) (decisions.write_status).
    decisions: list[tuple] = field(default_factory=list)


@contextmanager
def _work_schema(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A fresh ``WORK_SCHEMA`` for the duration, dropped afterwards whatever happens."""
    con.execute(f"drop schema if exists {WORK_SCHEMA} cascade")
    con.execute(f"create schema {WORK_SCHEMA}")
    try:
        yield
    finally:
        # Splink's DuckDBAPI switches the connection's default schema to its output schema.
        con.execute("set schema 'main'")
        con.execute(f"drop schema if exists {WORK_SCHEMA} cascade")


def resolve(
    con: duckdb.DuckDBPyConnection, config: ResolutionConfig | None = None, log=print, full: bool = False
) -> ResolutionResult:
    """Run the resolution on the warehouse connection ``con``: incrementally when the warehouse
    holds a resolution made with the same code, settings, model and plan (``incremental``), else
    (or with ``full``) on every record. ``mode`` and ``mode_reason`` of the result say which, and why.
    """
    with _work_schema(con):
        return _resolve(con, config or ResolutionConfig(), log, full)


def train_model(con: duckdb.DuckDBPyConnection, config: ResolutionConfig, log=print) -> tuple[bool, str]:
    """Fit the model to the warehouse's records and save it (``cdp identity train``), resolving
    nothing. Returns whether training succeeded, and what was done."""
    with _work_schema(con):
        build_identity_records(con, config.identity)
        inputs = prepare_inputs(con, config.identity, log, WORK_SCHEMA)
        if not inputs.scorable:
            return False, "no record with a name and a comparable field: nothing to train on"
        _, source, trained = _train_here(con, inputs.tables, inputs.plan, config, log)
        return trained, source


def keep_previous(con: duckdb.DuckDBPyConnection, config: ResolutionConfig, log=print) -> str | None:
    """Keep the previous resolution as it is when this run's changes leave every identity record
    as it was; returns the line saying so, or None: ``resolve`` has work to do.

    A day may bring deliveries of identity tables without a new or changed identity record (web
    events of known visitors, a file delivered again). An incremental run would then standardise,
    plan, load the model, score nothing new, cluster nothing and assign no id, and write what the
    warehouse already holds: ``keep_previous`` finds that out from the raw deliveries, standardising
    only their records, and writes only what an increment would change (``identity.raw_batches``,
    ``identity.resolution_state``). It keeps when the increment would build on the previous
    resolution with the same code, settings, model (the one trained on this warehouse), stores and
    clustering state, no raw row was removed, and no id is pending; anything else is ``resolve``'s.
    """
    with _work_schema(con):
        previous = incremental.read_previous(con)
        if incremental.reason_for_full(con, previous, config.identity, retrain=False) is not None:
            return None
        # The model an increment would score with: the one trained on this warehouse, unchanged.
        # Without one, a run may train (automatic training): left to ``resolve``.
        saved = model.read_model(config.trained_model) if config.trained_model else None
        if saved is None or incremental.model_digest(saved) != previous.model_digest:
            return None
        if not can_cluster_part(con) or not stable_ids_settled(con):
            return None
        decisions.load(con, config.decisions(), WORK_SCHEMA)
        if con.execute(f"select count(*) from ({decisions.changed_records(con)})").fetchall()[0][0]:
            return None
        incremental.read_raw_batches(con, WORK_SCHEMA)
        stores = incremental.stores_digest(con)
        if stores != previous.stores or incremental.raw_delta(con, WORK_SCHEMA) is not None:
            return None
        deliveries = con.execute(f"select count(*) from {WORK_SCHEMA}.new_batches").fetchall()[0][0]
        touched = con.execute(f"select count(*) from {WORK_SCHEMA}.touched").fetchall()[0][0]
        relations = {table: f"{WORK_SCHEMA}.delta_{table}" for table in READ_TABLES}
        if touched and not records_unchanged(
            con, config.identity, relations, f"{WORK_SCHEMA}.touched", WORK_SCHEMA
        ):
            return None
        # What an increment that changed nothing writes: its state (the previous one's model, plan
        # and prior, now) and the deliveries it read.
        incremental.write_state(
            con, "incremental", config.identity, saved, previous.plan, previous.prior, previous, stores,
            previous.field_plan,
        )  # fmt: skip
        incremental.write_raw_batches(con, WORK_SCHEMA)
    line = (
        f"no identity record changed ({deliveries:,} new deliveries of identity tables, "
        f"{touched:,} records in them standardised again, all as before): kept the previous resolution"
    )
    log(line)
    return line


# --- One run, stage by stage ---------------------------------------------------------------------


@dataclass
class _Run:
    """A resolution under way: what its stages share.

    ``reason`` says why the run is full (None: incremental). It is set before any work, from the
    previous resolution, the code and the settings (``incremental.reason_for_full``), and once more
    when the model and the plan are known (``incremental.reason_for_full_model``, in ``_model_for``): a
    run that then finds them changed has standardised as an increment, and scores and clusters
    every record.
    """

    con: duckdb.DuckDBPyConnection
    config: ResolutionConfig
    log: Callable[[str], None]
    previous: incremental.Previous | None
    reason: str | None
    steps: Steps
    # Wall seconds per stage (ResolutionResult.seconds).
    seconds: dict[str, float] = field(default_factory=dict)
    # The stores the records are standardised with (incremental.stores_digest).
    stores: str = ""

    @property
    def is_incremental(self) -> bool:
        return self.reason is None

    @property
    def mode(self) -> str:
        return "incremental" if self.is_incremental else "full"


@dataclass(frozen=True)
class _ModelUsed:
    """The model a run scores with (None: no record to score), where it came from, and whether it
    was trained this run."""

    saved: dict | None = None
    source: str = "none: no record with a name"
    trained: bool = False


@dataclass(frozen=True)
class _Linked:
    """What the link stage produced, for the clustering, the state and the result."""

    deterministic: int
    inputs: Inputs
    plan_digest: str
    changes: incremental.Changes | None
    model_used: _ModelUsed
    scored: scoring.Scored
    mode_reason: str
    blocking: dict


def _resolve(con: duckdb.DuckDBPyConnection, config: ResolutionConfig, log, full: bool) -> ResolutionResult:
    run = _begin(con, config, log, full)
    records = _standardise(run)
    linked = _link(run)
    clustering, counts, statuses = _cluster(run, records)
    _keep_state(run, linked)
    guarded, probabilistic, flagged = counts
    changes = linked.changes
    return ResolutionResult(
        records, linked.deterministic, linked.scored.pairs, probabilistic, guarded, flagged,
        linked.model_used.trained, run.seconds,
        model_source=linked.model_used.source, prior=linked.scored.prior_source,
        plan=linked.inputs.plan.describe(), comparisons_per_rule=linked.scored.comparisons_per_rule,
        mode=run.mode, mode_reason=linked.mode_reason,
        changed_records=None if changes is None else changes.new + changes.changed,
        pairs_scored_this_run=linked.scored.this_run, score_seconds=linked.scored.seconds,
        steps=dict(run.steps), clustered_records=clustering.records, blocking=linked.blocking,
        decisions=statuses,
    )  # fmt: skip


def _begin(con: duckdb.DuckDBPyConnection, config: ResolutionConfig, log, full: bool) -> _Run:
    """The previous resolution, and why this run cannot build on it (None: it can, so far)."""
    steps = Steps()
    previous = None if full else incremental.read_previous(con)
    reason = (
        "full re-resolution requested"
        if full
        else incremental.reason_for_full(con, previous, config.identity, config.retrain)
    )
    return _Run(con, config, log, previous, reason, steps)


def _standardise(run: _Run) -> int:
    """``identity.records``: every record standardised, or (an increment) only the records of new
    deliveries when nothing else changed (``incremental.raw_delta``). Returns the records."""
    con, identity = run.con, run.config.identity
    started = time.perf_counter()
    if run.is_incremental:
        incremental.snapshot_previous(con, WORK_SCHEMA)
    run.steps.done("snapshot previous records")
    # The deliveries read and the stores: an increment standardises only the records of new
    # deliveries when nothing else changed (incremental.raw_delta).
    incremental.read_raw_batches(con, WORK_SCHEMA)
    run.stores = incremental.stores_digest(con)
    everything = (
        "a full run"
        if not run.is_incremental
        else "the stores changed"
        if run.stores != run.previous.stores
        else incremental.raw_delta(con, WORK_SCHEMA)
    )
    run.steps.done("new deliveries")
    if everything is None:
        relations = {table: f"{WORK_SCHEMA}.delta_{table}" for table in READ_TABLES}
        records = update_identity_records(con, identity, relations, f"{WORK_SCHEMA}.touched", WORK_SCHEMA)
        touched = con.execute(f"select count(*) from {WORK_SCHEMA}.touched").fetchall()[0][0]
        run.log(f"standardised again: {touched:,} records of new deliveries; {records:,} records in all")
    else:
        if run.is_incremental:
            run.log(f"standardising every record: {everything}")
        records = build_identity_records(con, identity)
    run.steps.done("standardise")
    run.seconds["standardise"] = time.perf_counter() - started
    return records


def _link(run: _Run) -> _Linked:
    """Exact links, the Splink inputs, the model (trained when needed) and the scored pairs."""
    con = run.con
    started = time.perf_counter()
    deterministic = build_deterministic_edges(con)
    run.steps.done("deterministic links")
    mark = (lambda c, keyed: incremental.mark_rescored(c, WORK_SCHEMA, keyed)) if run.is_incremental else None
    stored = _stored_plan(run.previous) if run.is_incremental else None
    inputs = prepare_inputs(con, run.config.identity, run.log, WORK_SCHEMA, mark, stored)
    plan_digest = incremental.plan_fingerprint(inputs.plan, inputs.names)
    run.steps.done("named records, blocking keys, Splink inputs")
    changes = incremental.count_changes(con, WORK_SCHEMA) if run.is_incremental else None
    run.steps.done("count changes")
    if not run.is_incremental:
        scoring.start_scored_edges(con)
    model_used = _ModelUsed()
    if inputs.scorable:
        saved, source = _choose_model_for(run, inputs.plan, plan_digest)
        if stored is not None and not run.is_incremental:
            # Turned full: the plan and the caps are estimated afresh, as a full run's are.
            run.log("estimating the field plan and the blocking afresh for a full run")
            inputs = prepare_inputs(con, run.config.identity, run.log, WORK_SCHEMA)
            plan_digest = incremental.plan_fingerprint(inputs.plan, inputs.names)
            saved, source = _choose_model(run.config, inputs.plan, inputs.plan.records, run.log)
        model_used = _model_for(run, inputs, saved, source) if inputs.scorable else _ModelUsed()
    scored = _score(run, inputs, model_used.saved)
    # The redundancy estimate reads every kept pair: a full run's figure (an increment keeps
    # almost all of them, and a day's run should cost what the day changed).
    blocking = {
        **(inputs.blocking.describe() if inputs.blocking else {}),
        **(scoring.blocking_redundancy(con, inputs.plan) if not run.is_incremental else {}),
    }
    if "share_found_by_several_rules" in blocking:
        run.log(
            f"blocking: {blocking['share_found_by_several_rules']:.1%} of the "
            f"{blocking['expected_matches']:,.0f} expected matches are found by more than one rule "
            "(an estimate of blocking recall: a match only one rule finds is easily lost)"
        )
    run.steps.done("blocking estimate")
    mode_reason = f"incremental: {changes.describe()}" if run.is_incremental else f"full: {run.reason}"
    run.log(f"identity run {mode_reason}")
    # Training (a first run, or on request) is timed apart from linking, which every run does.
    run.seconds["link"] = time.perf_counter() - started - run.seconds.get("train", 0.0)
    return _Linked(deterministic, inputs, plan_digest, changes, model_used, scored, mode_reason, blocking)


def _stored_plan(previous: incremental.Previous) -> StoredPlan | None:
    """The field plan and block caps of the last full resolution, which an increment reuses (None:
    the previous resolution kept none, being older: they are estimated as a full run's are)."""
    if previous.field_plan is None:
        return None
    whose = f"the last full resolution's ({previous.full_resolved_at:%Y-%m-%d %H:%M})"
    return read_plan_state(previous.field_plan, whose)


def _choose_model_for(run: _Run, plan: model.ModelPlan, plan_digest: str) -> tuple[dict | None, str]:
    """The model to score with (``_choose_model``); a run still incremental turns full here if the
    model or the plan differ from the previous resolution's."""
    saved, source = _choose_model(run.config, plan, plan.records, run.log)
    if run.is_incremental:
        run.reason = incremental.reason_for_full_model(run.previous, saved, plan_digest)
        if run.reason is not None:
            scoring.discard_scored_edges(run.con)
    return saved, source


def _model_for(run: _Run, inputs: Inputs, saved: dict | None, source: str) -> _ModelUsed:
    """The model chosen (``_choose_model_for``), or one trained now when there is none."""
    plan = inputs.plan
    trained = False
    if saved is None:
        training_started = time.perf_counter()
        trained_linker, source, trained = _train_here(run.con, inputs.tables, plan, run.config, run.log)
        saved = trained_linker.misc.save_model_to_json()
        run.seconds["train"] = time.perf_counter() - training_started
    run.log(f"model: {source}")
    run.steps.done("model")
    return _ModelUsed(saved, source, trained)


def _score(run: _Run, inputs: Inputs, saved: dict | None) -> scoring.Scored:
    """Every compared pair scored (full), or the pairs of new and changed records (incremental)."""
    if not inputs.scorable:
        if run.is_incremental:  # an increment with no record to score: no pair either
            scoring.discard_scored_edges(run.con)
        return scoring.Scored()
    if run.is_incremental:
        scored = scoring.score_increment(
            run.con, inputs, saved, run.previous, run.config.identity.scored_floor, WORK_SCHEMA, run.log
        )
    else:
        # What each rule compares, for the log and the asset's metadata: a full run's figure. An
        # increment compares only the pairs of its new and changed records (pairs_scored_this_run).
        comparisons = scoring.pairs_per_rule(train.on_duckdb(run.con), inputs.plan)
        run.steps.done("count pairs per rule")
        identity = run.config.identity
        scored = scoring.score_all(
            run.con, inputs, saved, identity.prior_recall, identity.scored_floor, comparisons, run.log
        )
    run.steps.done("score")
    return scored


def _cluster(run: _Run, records: int) -> tuple[Clustering, tuple[int, int, int], list[tuple]]:
    """Cluster every record (full), or the part a day's changes touched (incremental), under the
    steward's decisions. Returns the clustering; the links refused by a guard, the probabilistic
    links used, the flagged clusters; and what became of each decision."""
    con, identity = run.con, run.config.identity
    started = time.perf_counter()
    run.steps.done("log")
    decisions.load(con, run.config.decisions(), WORK_SCHEMA)
    # Why every record is clustered again in an increment (None: only the part the day touched).
    whole = (
        None
        if not run.is_incremental
        else "the previous resolution kept no clustering state"
        if not can_cluster_part(con)
        else "the stores changed"
        if run.stores != run.previous.stores
        else None
    )
    if whole is not None:
        run.log(f"clustering every record: {whole}")
    if run.is_incremental and whole is None:
        # The records of decisions made or revoked since are clustered again with the day's.
        con.execute(
            f"create or replace table {WORK_SCHEMA}.changed_or_decided as "
            f"select unique_id from {WORK_SCHEMA}.changed_records "
            f"union select unique_id from ({decisions.changed_records(con)})"
        )
        clustering = cluster_part(
            con, WORK_SCHEMA, identity, f"{WORK_SCHEMA}.changed_or_decided", f"{WORK_SCHEMA}.rescored"
        )
        run.log(
            f"clustered again: {clustering.records:,} records of {records:,} (the part connected to "
            f"{clustering.seeds:,} new, changed or gone records and changed links; "
            f"{clustering.rounds} round(s)); every other cluster kept"
        )
    else:
        clustering = cluster_all(con, WORK_SCHEMA, identity)
    run.steps.done("cluster")
    run.steps.update({f"cluster: {phase}": s for phase, s in clustering.seconds.items()})
    guarded, probabilistic = con.execute(
        "select count(*) filter (where guard is not null), "
        "count(*) filter (where method = 'probabilistic' and guard is null) from identity.edges"
    ).fetchall()[0]
    flagged = con.execute("select count(*) from identity.flagged_clusters").fetchall()[0][0]
    decisions.keep_applied(con)
    statuses = decisions.write_status(con)
    for decision_id, kind, holds, note in statuses:
        if not holds or note:
            run.log(
                f"steward decision {decision_id} ({kind}): {'holds' if holds else 'does not hold'}; {note}"
            )
    if statuses:
        held = sum(1 for s in statuses if s[2])
        run.log(f"steward decisions: {held} of {len(statuses)} in force hold")
    run.steps.done("steward decisions")
    run.seconds["cluster"] = time.perf_counter() - started
    return clustering, (guarded, probabilistic, flagged), statuses


def _keep_state(run: _Run, linked: _Linked) -> None:
    """What this resolution was made with and read, for the next run to build on it."""
    field_plan = (
        run.previous.field_plan
        if run.is_incremental
        else plan_state(linked.inputs.plan, linked.inputs.blocking)
    )
    incremental.write_state(
        run.con, run.mode, run.config.identity, linked.model_used.saved, linked.plan_digest,
        linked.scored.prior, run.previous if run.is_incremental else None, run.stores, field_plan,
    )  # fmt: skip
    incremental.write_raw_batches(run.con, WORK_SCHEMA)
    run.steps.done("state")


# --- The model ---------------------------------------------------------------------------------


def _choose_model(
    config: ResolutionConfig, plan: model.ModelPlan, named: int, log
) -> tuple[dict | None, str]:
    """The model to use (None: train one now) and why.

    Order: a retrain requested; the model trained on this warehouse's records (CDP_DATA_DIR), if it
    covers the comparisons the data supports; training now, on a first run with enough named
    records (``training.auto_train_min_records``); else the shipped model.
    """
    identity = config.identity
    auto = 0 < identity.auto_train_min_records <= named
    if config.retrain:
        return None, "retrain requested"
    trained = model.read_model(config.trained_model) if config.trained_model else None
    if trained is not None:
        missing = model.missing_comparisons(trained, plan)
        if not missing:
            return trained, f"trained on this warehouse's records ({config.trained_model})"
        if auto:
            return None, f"the trained model lacks comparisons the data now supports ({', '.join(missing)})"
        log(f"model: the trained model lacks {', '.join(missing)}; those comparisons are left out")
        kept = {
            **trained,
            "comparisons": [c for c in trained["comparisons"] if c["output_column_name"] not in missing],
        }
        return kept, f"trained on this warehouse's records ({config.trained_model}), without {missing}"
    if auto:
        return None, f"first run: no trained model yet, and {named:,} named records to train on"
    shipped = model.read_model(config.shipped_model)
    if shipped is None:
        return None, "no shipped model"
    reason = f"shipped default ({config.shipped_model}): no model trained on this warehouse yet" + (
        f" and only {named:,} named records (automatic training from "
        f"{identity.auto_train_min_records:,}); run `cdp identity train` to fit one"
        if identity.auto_train_min_records
        else " (automatic training disabled); run `cdp identity train` to fit one"
    )
    return shipped, reason


def _train_here(
    con: duckdb.DuckDBPyConnection,
    tables: list,
    plan: model.ModelPlan,
    config: ResolutionConfig,
    log,
) -> tuple[Linker, str, bool]:
    """Train on these records, save under CDP_DATA_DIR and report; on failure, the shipped model."""
    linker = linker_over(tables, model.settings(plan))
    log("training the Splink model on this warehouse's records")
    shipped = model.read_model(config.shipped_model)
    try:
        report = train.fit(
            train.on_duckdb(con),
            linker,
            plan,
            config.identity,
            log,
            shipped and shipped["probability_two_random_records_match"],
        )
    except train.TrainingError as e:
        log(f"training failed, using the shipped model instead: {e}")
        if shipped is None:
            raise
        return (
            linker_over(tables, model.fit_to_plan(shipped, plan)),
            f"shipped default (training failed: {e})",
            False,
        )
    linker = linker_over(tables, train.monotone_weights(linker.misc.save_model_to_json()))
    path = config.trained_model or config.shipped_model
    path.parent.mkdir(parents=True, exist_ok=True)
    linker.misc.save_model_to_json(str(path), overwrite=True)
    report.model_path = path
    if config.report_dir is not None:
        page = train.write_report(linker, report, plan, config.report_dir)
        log(f"training report: {page}")
    return linker, f"trained this run on this warehouse's records ({path}); prior {report.prior}", True
