"""Identity resolution: standardise → deterministic links → Splink → constrained merging.

The Splink model is planned from the fields the records populate (``model.ModelPlan``), trained on
this warehouse's records when there is none yet (``train``), and its prior is re-estimated and
refined on every run (``refine_prior``). Settings come from ``identity.yml`` (``config``); the
reference is docs/identity.md.

Writes, in the warehouse's ``identity`` schema:

- ``records``: standardised identity-bearing records (``standardise``);
- ``first_name_variants``: the first-name dictionary, standardised;
- ``blocking_keys``: every capped blocking key of every named record (what the rules compare);
- ``deterministic_edges``: exact links (``links``);
- ``scored_edges``: every pair Splink scored above ``EXPLAIN_MIN_PROBABILITY``, with match weight,
  probability and the level of each comparison (the "why" of every probabilistic merge);
- ``edges``: every link considered (deterministic, probabilistic, attached), with ``guard`` saying
  why a link was refused (null when it was used);
- ``clusters``: ``unique_id → cluster_id`` (an unstable label), before stable ids;
- ``flagged_clusters``, ``attachment_values`` and ``connected_parts`` (``cluster``);
- ``resolution_state`` and ``raw_batches``: what this resolution was made with and read, for the
  next run to build on it (``incremental``).

A run is incremental when it can (``incremental``): it standardises only the records of new
deliveries, scores only the pairs of new or changed records and keeps the other scored pairs, and
clusters again only the part of the records those changes touch (``cluster.cluster_part``),
keeping every other cluster.

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
  using it are compatible (``_link_by_shared_identifier``);
- a cluster above ``max_cluster_size`` records is flagged in ``identity.flagged_clusters`` and falls
  back to its deterministic links only: it is not silently merged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
from splink import DuckDBAPI, Linker, SettingsCreator

from orchestration.identity import cluster, incremental, model, train
from orchestration.identity.config import IdentitySettings, load_identity_settings
from orchestration.identity.links import build_deterministic_edges
from orchestration.identity.standardise import READ_TABLES, build_identity_records, update_identity_records

EXPLAIN_MIN_PROBABILITY = 0.5
# Pairs scored more than this many bits below the threshold are left out of the prior's refinement:
# each is a match with probability under 1e-6 at the first prior, and stays under 0.05 even when the
# refined prior is 2^15 times larger (RLdata's first prior was 600 = 2^9 times too small).
REFINE_MARGIN_BITS = 12
# Intermediate tables (ours and Splink's) live here and are dropped after every run, so the
# warehouse keeps only the ``identity`` outputs and does not grow with each run.
WORK_SCHEMA = "identity_work"
SOURCES = (
    "pos_tickets", "ecommerce_customers", "ecommerce_orders", "crm_contacts", "crm_tickets",
    "survey_responses",
)  # fmt: skip


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


class _Steps(dict):
    """Wall seconds per step: ``done(name)`` adds the time since the previous step ended."""

    def __init__(self) -> None:
        super().__init__()
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self[name] = self.get(name, 0.0) + now - self._last
        self._last = now


def _named_records(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``splink_named``: the records with a name, with the columns Splink compares."""
    con.execute(
        """
        create or replace temp table splink_named as
        select unique_id, source_system, first_name, last_name,
               nullif(concat_ws(' ', first_name, last_name), '') as full_name,
               email, phone, birth_date, postcode, city, street, house_number,
               cdp_phonetic(last_name) as last_name_sound
        from identity.records
        where coalesce(first_name, last_name) is not null
        """
    )


def plan_model(con: duckdb.DuckDBPyConnection, min_field_share: float) -> model.ModelPlan:
    """Which fields the named records populate (share of records with a value), hence the plan."""
    row = con.execute(
        "select count(*), " + ", ".join(f"count({f})" for f in model.FIELDS) + " from splink_named"
    ).fetchall()[0]
    total = row[0] or 1
    return model.ModelPlan(
        field_share={f: n / total for f, n in zip(model.FIELDS, row[1:], strict=True)},
        min_field_share=min_field_share,
        records=row[0],
    )


def _splink_inputs(
    con: duckdb.DuckDBPyConnection,
    max_block: int,
    plan: model.ModelPlan | None = None,
    mark: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None,
) -> list[str]:
    """One input table per source (link_and_dedupe), holding records with a name.

    A record without a name has one e-mail or phone to match on, which no model can weigh
    against the namesakes sharing it: ``_attach_by_unique_value`` places those records instead.

    Temporary tables: Splink reads them by unqualified name, and they vanish with the connection.
    The capped blocking keys the plan supports are computed here, and kept in
    ``identity.blocking_keys`` so that an evaluation can tell which true pairs no rule compared.
    ``mark(con, table)``, when given, may add columns to the keyed records before they are split by
    source (an increment marks the records to score again).
    """
    if plan is None:  # called on its own: build the named records first
        _named_records(con)
        plan = plan_model(con, 0.0)
    # Each capped blocking key (model.BLOCKING_KEYS): the first tier at most max_block records
    # share, counted across every source (link_and_dedupe compares across and within them).
    # Records per value of each tier, by aggregates joined back (one window per tier, each
    # partitioning every named record again, cost 9 s at 100k customers; these 1 s).
    tiers = {k: [f"({t})" for t in model.BLOCKING_KEYS[k][1]] for k in plan.blocking_keys}
    columns = [f"{key}_{i}" for key, ts in tiers.items() for i in range(len(ts))]
    values = "".join(f",\n {t} as {key}_{i}" for key, ts in tiers.items() for i, t in enumerate(ts))
    counts = "".join(
        f",\n n_{c} as (select {c} as v, count(*) as n from tiered where {c} is not null group by 1)"
        for c in columns
    )
    joins = "".join(f"\n left join n_{c} on n_{c}.v = t.{c}" for c in columns)
    keys = "".join(
        ",\n case "
        + " ".join(f"when n_{key}_{i}.n <= {max_block} then t.{key}_{i}" for i in range(len(ts)))
        + f" end as {key}"
        for key, ts in tiers.items()
    )
    absent = "".join(f", null::varchar as {k}" for k in model.BLOCKING_KEYS if k not in tiers)
    con.execute(
        f"""
        create or replace temp table splink_keyed as
        with tiered as (select *{values} from splink_named){counts}
        select t.unique_id, t.source_system, t.first_name, t.last_name, t.full_name, t.email, t.phone,
               t.birth_date, t.postcode, t.city, t.street, t.house_number, t.last_name_sound{keys}{absent}
        from tiered t{joins}
        """
    )
    con.execute(
        "create or replace table identity.blocking_keys as select unique_id, email, phone, "
        + ", ".join(model.BLOCKING_KEYS)
        + " from splink_keyed"
    )
    if mark is not None:
        mark(con, "splink_keyed")
    names = []
    for source in SOURCES:
        name = f"splink_{source}"
        con.execute(
            f"create or replace temp table {name} as select * exclude (source_system) "
            f"from splink_keyed where source_system = '{source}'"
        )
        names.append(name)
    return names


def refine_prior(con: duckdb.DuckDBPyConnection, pairs: str, start: float, all_pairs: float) -> float:
    """The prior that agrees with the model's own scores of the compared pairs.

    A prior from deterministic rules assumes their recall (``prior.recall``), and real data can be
    far from it: on RLdata10000 every duplicate has one mistyped field, exact name + birth date finds
    1 pair of 1,000 and the prior comes out 600 times too small (no pair then reaches 0.5). So the
    rule-based prior only starts a fixed point: the expected number of matches is the sum of the
    match probabilities of the compared pairs (pairs no rule compares are taken as non-matches),
    and the prior is that number over all possible pairs; the probabilities depend on the prior,
    so the two are iterated until they agree (EM on the prior alone, m and u fixed).
    """
    if all_pairs <= 0 or not 0 < start < 1:
        return start
    # Bayes factors without the prior: log2 BF = match_weight - log2(start / (1 - start)).
    log_bf = con.execute(
        f"select match_weight - log2({start} / (1 - {start})) from {pairs} where match_weight is not null"
    ).fetchnumpy()
    bf = np.exp2(np.clip(next(iter(log_bf.values())).astype("float64"), -200, 200))
    lam = start
    for _ in range(200):
        odds = lam / (1 - lam) * bf
        updated = float(np.sum(odds / (1 + odds)) / all_pairs)
        updated = min(max(updated, 1e-12), 0.5)
        if abs(updated - lam) <= 1e-6 * lam:
            return updated
        lam = updated
    return lam


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


@dataclass(frozen=True)
class _Inputs:
    """What Splink works on: the plan of the fields present, and the registered non-empty inputs."""

    plan: model.ModelPlan
    tables: list
    names: list[str]
    db_api: DuckDBAPI


def _prepare_inputs(
    con: duckdb.DuckDBPyConnection,
    identity: IdentitySettings,
    log,
    mark: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None,
) -> _Inputs:
    """Named records, the plan of the fields they populate (logged), blocking keys, and one
    registered Splink input per source that has records (needs ``identity.records``)."""
    _named_records(con)
    plan = plan_model(con, identity.min_field_share)
    log(
        "fields populated (share of named records): "
        + ", ".join(f"{f} {s:.1%}" for f, s in plan.field_share.items())
        + f"; used from {identity.min_field_share:.0%}: {', '.join(sorted(plan.present)) or 'none'}"
    )
    inputs = [
        name
        for name in _splink_inputs(con, identity.max_block_records, plan, mark)
        if con.execute(f"select count(*) from {name}").fetchall()[0][0]
    ]
    db_api = DuckDBAPI(con, output_schema=WORK_SCHEMA)
    tables = [db_api.register(n, dataset_display_name=n.removeprefix("splink_")) for n in inputs]
    return _Inputs(plan, tables, inputs, db_api)


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
        inputs = _prepare_inputs(con, config.identity, log)
        if not inputs.tables or not inputs.plan.comparisons:
            return False, "no record with a name and a comparable field: nothing to train on"
        _, source, trained = _train_here(con, inputs.tables, inputs.plan, config, log)
        return trained, source


def _linker(tables: list, settings: dict | SettingsCreator) -> Linker:
    """A linker over the registered inputs: link_and_dedupe across sources, dedupe_only for one."""
    link_type = "link_and_dedupe" if len(tables) > 1 else "dedupe_only"
    if isinstance(settings, dict):
        settings = {**settings, "link_type": link_type}
    else:
        settings.link_type = link_type
    return Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.WARNING)


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
        return trained, f"trained on this warehouse's records ({config.trained_model}), without {missing}"
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
    linker = _linker(tables, model.settings(plan))
    log("training the Splink model on this warehouse's records")
    shipped = model.read_model(config.shipped_model)
    try:
        report = train.fit(
            con,
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
            _linker(tables, model.fit_to_plan(shipped, plan)),
            f"shipped default (training failed: {e})",
            False,
        )
    linker = _linker(tables, train.monotone_weights(linker.misc.save_model_to_json()))
    path = config.trained_model or config.shipped_model
    path.parent.mkdir(parents=True, exist_ok=True)
    linker.misc.save_model_to_json(str(path), overwrite=True)
    report.model_path = path
    if config.report_dir is not None:
        page = train.write_report(linker, report, plan, config.report_dir)
        log(f"training report: {page}")
    return linker, f"trained this run on this warehouse's records ({path}); prior {report.prior}", True


def _score_increment(
    con: duckdb.DuckDBPyConnection, inputs: _Inputs, fitted: dict, prior: float, log
) -> tuple[int, int]:
    """Keep the previous scored pairs among unchanged named records; score the pairs with at least
    one record marked ``cdp_rescore`` (``incremental.mark_rescored``), with the same blocking rules
    and model and ``prior`` (the last full resolution's refined prior). Returns the pairs scored
    this run and the pairs kept from the previous one.

    Splink works on the records that can be in such a pair only: those marked and those sharing a
    blocking key with one (``predict_within``). Term frequencies are those of all the named
    records (``compute_tf_table`` on the full inputs), as in a full run.
    """
    con.execute(
        f"""
        create or replace table {WORK_SCHEMA}.unchanged as
        select unique_id from splink_keyed where not cdp_rescore;
        delete from identity.scored_edges
        where unique_id_l not in (select unique_id from {WORK_SCHEMA}.unchanged)
           or unique_id_r not in (select unique_id from {WORK_SCHEMA}.unchanged);
        """
    )
    kept = con.execute("select count(*) from identity.scored_edges").fetchall()[0][0]
    if not con.execute("select count(*) from splink_keyed where cdp_rescore").fetchall()[0][0]:
        log("nothing new to score: no named record is new or changed")
        return 0, kept
    # The same rules, each restricted to pairs with a record to score again: blocking still joins on
    # the rule's key, so only those pairs are compared and scored.
    settings = {
        **fitted,
        "probability_two_random_records_match": prior,
        "blocking_rules_to_generate_predictions": [
            {**rule, "blocking_rule": f"({rule['blocking_rule']}) and (l.cdp_rescore or r.cdp_rescore)"}
            for rule in fitted["blocking_rules_to_generate_predictions"]
        ],
    }
    linker = _linker(inputs.tables, settings)
    tf_columns = {
        level["tf_adjustment_column"]
        for comparison in fitted["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    for column in sorted(tf_columns):
        linker.table_management.compute_tf_table(column)
    keys = inputs.plan.blocking_rule_names
    con.execute(
        "create or replace temp table _partners as select unique_id from splink_keyed where cdp_rescore"
        + "".join(
            f" union select unique_id from splink_keyed where {key} in "
            f"(select {key} from splink_keyed where cdp_rescore and {key} is not null)"
            for key in keys
        )
    )
    subsets = []
    for name in inputs.names:
        subset = f"{name}_increment"
        con.execute(
            f"create or replace temp table {subset} as select * from {name} "
            "where unique_id in (select unique_id from _partners)"
        )
        # Every source keeps its input, even with no partner today: with several inputs the linker
        # is link_and_dedupe, whose SQL needs each record's source, which one input alone lacks.
        if len(inputs.names) > 1 or con.execute(f"select count(*) from {subset}").fetchall()[0][0]:
            subsets.append(
                inputs.db_api.register(
                    subset, dataset_display_name=name.removeprefix("splink_"), table_name=subset
                )
            )
    threshold = math.log2(EXPLAIN_MIN_PROBABILITY / (1 - EXPLAIN_MIN_PROBABILITY))
    predictions = linker.inference.predict_within(subsets, threshold_match_weight=threshold)
    columns = ", ".join(f'"{c}"' for c, *_ in con.execute("describe identity.scored_edges").fetchall())
    con.execute(
        f"insert into identity.scored_edges by name select {columns} from {predictions.physical_name} "
        f"where match_weight >= {threshold}"
    )
    new = con.execute("select count(*) from identity.scored_edges").fetchall()[0][0] - kept
    return new, kept


def _resolve(con: duckdb.DuckDBPyConnection, config: ResolutionConfig, log, full: bool) -> ResolutionResult:
    identity = config.identity
    seconds: dict[str, float] = {}
    steps = _Steps()
    previous = None if full else incremental.read_previous(con)
    # Why the run is full (None: incremental so far; the model and plan are checked below).
    reason = (
        "full re-resolution requested"
        if full
        else incremental.reason_for_full(con, previous, identity, config.retrain)
    )
    started = time.perf_counter()
    if reason is None:
        incremental.snapshot_previous(con, WORK_SCHEMA)
    steps.done("snapshot previous records")
    # The deliveries read and the stores: an increment standardises only the records of new
    # deliveries when nothing else changed (incremental.raw_delta).
    incremental.read_raw_batches(con, WORK_SCHEMA)
    stores = incremental.stores_digest(con)
    everything = (
        "a full run"
        if reason is not None
        else "the stores changed"
        if stores != previous.stores
        else incremental.raw_delta(con, WORK_SCHEMA)
    )
    steps.done("new deliveries")
    if everything is None:
        relations = {table: f"{WORK_SCHEMA}.delta_{table}" for table in READ_TABLES}
        records = update_identity_records(con, identity, relations, f"{WORK_SCHEMA}.touched", WORK_SCHEMA)
        touched = con.execute(f"select count(*) from {WORK_SCHEMA}.touched").fetchall()[0][0]
        log(f"standardised again: {touched:,} records of new deliveries; {records:,} records in all")
    else:
        if reason is None:
            log(f"standardising every record: {everything}")
        records = build_identity_records(con, identity)
    steps.done("standardise")
    seconds["standardise"] = time.perf_counter() - started
    started = time.perf_counter()
    deterministic = build_deterministic_edges(con)
    steps.done("deterministic links")
    mark = (lambda c, keyed: incremental.mark_rescored(c, WORK_SCHEMA, keyed)) if reason is None else None
    inputs = _prepare_inputs(con, identity, log, mark)
    plan, tables = inputs.plan, inputs.tables
    plan_digest = incremental.plan_fingerprint(plan, inputs.names)
    steps.done("named records, blocking keys, Splink inputs")
    changes = incremental.count_changes(con, WORK_SCHEMA) if reason is None else None
    steps.done("count changes")
    named = plan.records
    scored, model_source, trained = 0, "none: no record with a name", False
    comparisons: dict[str, int] = {}
    prior, lam, saved, scored_now, score_seconds = "", None, None, 0, 0.0
    if reason is not None:
        con.execute(
            "create or replace table identity.scored_edges (unique_id_l varchar, unique_id_r varchar, "
            "match_probability double, match_weight double)"
        )
    if tables and plan.comparisons:
        saved, model_source = _choose_model(config, plan, named, log)
        if reason is None:
            reason = incremental.reason_for_full_model(previous, saved, plan_digest)
            if reason is not None:
                con.execute("delete from identity.scored_edges")
        if saved is None:
            training_started = time.perf_counter()
            linker, model_source, trained = _train_here(con, tables, plan, config, log)
            saved = linker.misc.save_model_to_json()
            seconds["train"] = time.perf_counter() - training_started
        log(f"model: {model_source}")
        steps.done("model")
        if reason is not None:
            # What each rule compares, for the log and the asset's metadata: a full run's figure. An
            # increment compares only the pairs of its new and changed records (pairs_scored_this_run).
            counted = train.count_pairs(con, [(name,) for name in plan.blocking_rule_names])
            comparisons = dict(zip(plan.blocking_rule_names, counted, strict=True))
            steps.done("count pairs per rule")
    if tables and plan.comparisons and reason is None:
        lam = previous.prior
        prior = f"the last full resolution's ({previous.full_resolved_at:%Y-%m-%d %H:%M}): {lam:.3g}"
        log(f"prior: {prior}")
        scoring_started = time.perf_counter()
        scored_now, kept = _score_increment(con, inputs, model.fit_to_plan(saved, plan), lam, log)
        log(f"pairs scored: {scored_now:,} with a new or changed record; {kept:,} kept from the previous run")
        scored = scored_now + kept
        score_seconds = time.perf_counter() - scoring_started
        steps.done("score")
    elif reason is None:  # an increment with no record to score: no pair either
        con.execute("delete from identity.scored_edges")
    elif tables and plan.comparisons:
        linker = _linker(tables, model.fit_to_plan(saved, plan))
        # m and u describe the comparisons and carry over; the prior (the chance that two random
        # records match) shrinks as the data grows, so it is measured on every run's own data.
        scoring_started = time.perf_counter()
        prior = train.estimate_prior(
            con, linker, plan, identity.prior_recall, saved["probability_two_random_records_match"], log
        )
        log(f"prior: {prior}")
        log("pairs each blocking rule compares: " + "; ".join(f"{k} {n:,}" for k, n in comparisons.items()))
        # Pairs are kept far below the threshold (REFINE_MARGIN_BITS), so that the prior can be
        # refined on the pairs themselves before the threshold is applied.
        lowest = math.log2(EXPLAIN_MIN_PROBABILITY / (1 - EXPLAIN_MIN_PROBABILITY)) - REFINE_MARGIN_BITS
        predictions = linker.inference.predict(threshold_match_weight=lowest)
        lam0 = linker.misc.save_model_to_json()["probability_two_random_records_match"]
        lam = refine_prior(con, predictions.physical_name, lam0, named * (named - 1) / 2)
        prior += f"; refined on the compared pairs: {lam0:.3g} → {lam:.3g}"
        log(f"prior refined on the {named:,} named records' compared pairs: {lam0:.3g} → {lam:.3g}")
        con.execute(
            f"""
            create or replace table identity.scored_edges as
            with rescored as (
                select * replace (
                    match_weight + log2({lam} / (1 - {lam})) - log2({lam0} / (1 - {lam0})) as match_weight
                )
                from {predictions.physical_name}
            )
            select * replace (1 / (1 + pow(2, -match_weight)) as match_probability)
            from rescored
            where match_weight >= log2({EXPLAIN_MIN_PROBABILITY} / (1 - {EXPLAIN_MIN_PROBABILITY}))
            """
        )
        scored = scored_now = con.execute("select count(*) from identity.scored_edges").fetchall()[0][0]
        score_seconds = time.perf_counter() - scoring_started
        steps.done("score")
    mode = "full" if reason is not None else "incremental"
    mode_reason = f"full: {reason}" if reason is not None else f"incremental: {changes.describe()}"
    log(f"identity run {mode_reason}")

    # Training (a first run, or on request) is timed apart from linking, which every run does.
    seconds["link"] = time.perf_counter() - started - seconds.get("train", 0.0)
    started = time.perf_counter()
    steps.done("log")
    # Why every record is clustered again in an increment (None: only the part the day touched).
    whole = (
        None
        if mode == "full"
        else "the previous resolution kept no clustering state"
        if not cluster.can_cluster_part(con)
        else "the stores changed"
        if stores != previous.stores
        else None
    )
    if whole is not None:
        log(f"clustering every record: {whole}")
    if mode == "incremental" and whole is None:
        clustering = cluster.cluster_part(
            con, WORK_SCHEMA, identity, f"{WORK_SCHEMA}.changed_records", f"{WORK_SCHEMA}.rescored"
        )
        log(
            f"clustered again: {clustering.records:,} records of {records:,} (the part connected to "
            f"{clustering.seeds:,} new, changed or gone records and changed links; "
            f"{clustering.rounds} round(s)); every other cluster kept"
        )
    else:
        clustering = cluster.cluster_all(con, WORK_SCHEMA, identity)
    steps.done("cluster")
    steps |= {f"cluster: {phase}": s for phase, s in clustering.seconds.items()}
    guarded, probabilistic = con.execute(
        "select count(*) filter (where guard is not null), "
        "count(*) filter (where method = 'probabilistic' and guard is null) from identity.edges"
    ).fetchall()[0]
    flagged = con.execute("select count(*) from identity.flagged_clusters").fetchall()[0][0]
    seconds["cluster"] = time.perf_counter() - started
    incremental.write_state(
        con, mode, identity, saved, plan_digest, lam, None if mode == "full" else previous, stores
    )
    incremental.write_raw_batches(con, WORK_SCHEMA)
    steps.done("state")
    return ResolutionResult(
        records, deterministic, scored, probabilistic, guarded, flagged, trained, seconds,
        model_source=model_source, prior=prior, plan=plan.describe(), comparisons_per_rule=comparisons,
        mode=mode, mode_reason=mode_reason,
        changed_records=None if changes is None else changes.new + changes.changed,
        pairs_scored_this_run=scored_now, score_seconds=score_seconds, steps=dict(steps),
        clustered_records=clustering.records,
    )  # fmt: skip
