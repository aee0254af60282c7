"""Scoring with Splink: the pairs the blocking rules compare, weighed by the model, kept in
``identity.scored_edges`` (every pair above ``IdentitySettings.scored_floor``, with match weight,
probability and the level of each comparison: the "why" of every probabilistic merge).

A full run scores every compared pair (``score_all``) after measuring the prior on its own data
and refining it on the compared pairs (``refine_prior``). An increment (``score_increment``) keeps
the previous run's pairs among unchanged records and scores only the pairs with a record new or
changed, with the prior of the last full resolution (docs/identity.md, "Incremental runs").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np

from orchestration.identity import model, train
from orchestration.identity.config import EXPLAIN_MIN_PROBABILITY
from orchestration.identity.incremental import Previous
from orchestration.identity.splink_inputs import Inputs, linker_over

# Pairs scored more than this many bits below the threshold are left out of the prior's refinement:
# each is a match with probability under 1e-6 at the first prior, and stays under 0.05 even when the
# refined prior is 2^15 times larger (RLdata's first prior was 600 = 2^9 times too small).
REFINE_MARGIN_BITS = 12


@dataclass(frozen=True)
class Scored:
    """What scoring left in ``identity.scored_edges``, and with which prior."""

    pairs: int = 0  # scored pairs kept (this run's and, in an increment, the previous run's)
    this_run: int = 0  # pairs scored this run
    prior: float | None = None  # the prior the pairs were scored with
    prior_source: str = ""  # how it was obtained, for the log and the asset's metadata
    # Pairs each blocking rule compares on its own (a full run's figure; rules overlap).
    comparisons_per_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # Splink's scoring: prior, predict and refinement, or the increment's pairs


def threshold_weight(floor: float) -> float:
    """The match weight of the probability ``floor`` (``IdentitySettings.scored_floor``): the lowest
    weight of a kept pair."""
    return math.log2(floor / (1 - floor))


def start_scored_edges(con: duckdb.DuckDBPyConnection) -> None:
    """A full run starts from no scored pair (a table scoring replaces when there is any)."""
    con.execute(
        "create or replace table identity.scored_edges (unique_id_l varchar, unique_id_r varchar, "
        "match_probability double, match_weight double)"
    )


def discard_scored_edges(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the previous run's scored pairs (an increment that cannot keep them)."""
    con.execute("delete from identity.scored_edges")


def pairs_per_rule(value_of: train.ValueOf, plan: model.ModelPlan) -> dict[str, int]:
    """What each blocking rule compares on its own, for the log and the asset's metadata (counted on
    either engine: ``train.ValueOf``)."""
    counted = train.count_pairs(value_of, [(name,) for name in plan.blocking_rule_names])
    return dict(zip(plan.blocking_rule_names, counted, strict=True))


def blocking_redundancy(con: duckdb.DuckDBPyConnection, plan: model.ModelPlan) -> dict[str, float]:
    """The model's own estimate of how much the blocking leans on single rules.

    Over the kept pairs (``identity.scored_edges``), weighted by their match probability (the
    expected matches), the share found by more than one blocking rule: a match only one rule
    finds is lost if that rule's block is refined away, and a low share says the true pairs no rule
    compares are likely many. With no truth file, it is the run's estimate of blocking recall.
    """
    rules = plan.blocking_rule_names
    if not rules:
        return {}
    agreeing = " + ".join(f"coalesce(l.{r} = r.{r}, false)::int" for r in rules)
    expected, redundant = con.execute(
        f"""
        select coalesce(sum(s.match_probability), 0),
               coalesce(sum(s.match_probability) filter (where {agreeing} >= 2), 0)
        from identity.scored_edges s
        join identity.blocking_keys l on l.unique_id = s.unique_id_l
        join identity.blocking_keys r on r.unique_id = s.unique_id_r
        """
    ).fetchall()[0]
    return {
        "expected_matches": round(float(expected), 1),
        "share_found_by_several_rules": round(float(redundant) / float(expected), 4) if expected else 1.0,
    }


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
    bf = np.exp2(np.clip(next(iter(log_bf.values())).astype("float64"), -LOG_BF_CLIP, LOG_BF_CLIP))

    def expected_matches(odds: float) -> float:
        return float(np.sum(odds * bf / (1 + odds * bf)))

    return prior_fixed_point(expected_matches, start, all_pairs)


# Bayes factors are clipped to 2^±LOG_BF_CLIP before the prior's fixed point (no overflow).
LOG_BF_CLIP = 200


def prior_fixed_point(expected_matches: Callable[[float], float], start: float, all_pairs: float) -> float:
    """``refine_prior``'s iteration, whatever computes its sum: ``expected_matches(odds)`` is the sum
    over the compared pairs of their match probability at prior odds ``odds`` (numpy here, a
    Spark aggregate on Spark)."""
    lam = start
    for _ in range(200):
        updated = expected_matches(lam / (1 - lam)) / all_pairs
        updated = min(max(updated, 1e-12), 0.5)
        if abs(updated - lam) <= 1e-6 * lam:
            return updated
        lam = updated
    return lam


def score_all(
    con: duckdb.DuckDBPyConnection,
    inputs: Inputs,
    saved: dict,
    prior_recall: float,
    floor: float,
    comparisons: dict[str, int],
    log: Callable[[str], None],
) -> Scored:
    """Score every pair the blocking rules compare into ``identity.scored_edges``.

    m and u describe the comparisons and carry over; the prior (the chance that two random records
    match) shrinks as the data grows, so it is measured on every run's own data (``train``), then
    refined on the compared pairs (``refine_prior``). Pairs from probability ``floor`` on are kept;
    ``comparisons``: what each rule compares.
    """
    plan, named = inputs.plan, inputs.plan.records
    scorer = linker_over(inputs.tables, model.fit_to_plan(saved, plan))
    started = time.perf_counter()
    prior = train.estimate_prior(
        train.on_duckdb(con), scorer, plan, prior_recall, saved["probability_two_random_records_match"], log
    )
    log(f"prior: {prior}")
    log("pairs each blocking rule compares: " + "; ".join(f"{k} {n:,}" for k, n in comparisons.items()))
    # Pairs are kept far below the threshold (REFINE_MARGIN_BITS), so that the prior can be
    # refined on the pairs themselves before the threshold is applied.
    # The margin counts from the explanations' 0.5 whatever the floor, so that a lower floor (the
    # KPI range) refines the prior on the same pairs and leaves every weight as it was.
    lowest = min(threshold_weight(EXPLAIN_MIN_PROBABILITY) - REFINE_MARGIN_BITS, threshold_weight(floor))
    predictions = scorer.inference.predict(threshold_match_weight=lowest)
    lam0 = scorer.misc.save_model_to_json()["probability_two_random_records_match"]
    lam = refine_prior(con, predictions.physical_name, lam0, named * (named - 1) / 2)
    prior += f"; refined on the compared pairs: {lam0:.3g} → {lam:.3g}"
    log(f"prior refined on the {named:,} named records' compared pairs: {lam0:.3g} → {lam:.3g}")
    _keep_refined(con, predictions.physical_name, lam0, lam, floor)
    scored = con.execute("select count(*) from identity.scored_edges").fetchall()[0][0]
    return Scored(scored, scored, lam, prior, comparisons, time.perf_counter() - started)


def refined_weight_sql(lam0: float, lam: float) -> str:
    """A pair's match weight scored with prior ``lam0``, rescored with the refined prior ``lam``
    (SQL both engines run)."""
    return f"match_weight + log2({lam} / (1 - {lam})) - log2({lam0} / (1 - {lam0}))"


# A pair's match probability from its match weight.
PROBABILITY_SQL = "1 / (1 + pow(2, -match_weight))"


def _keep_refined(
    con: duckdb.DuckDBPyConnection, predictions: str, lam0: float, lam: float, floor: float
) -> None:
    """``identity.scored_edges``: the predictions rescored with the refined prior ``lam`` (scored
    with ``lam0``), from probability ``floor`` on."""
    con.execute(
        f"""
        create or replace table identity.scored_edges as
        with rescored as (
            select * replace ({refined_weight_sql(lam0, lam)} as match_weight)
            from {predictions}
        )
        select * replace ({PROBABILITY_SQL} as match_probability)
        from rescored
        where match_weight >= {threshold_weight(floor)}
        """
    )


def score_increment(
    con: duckdb.DuckDBPyConnection,
    inputs: Inputs,
    saved: dict,
    previous: Previous,
    floor: float,
    work: str,
    log: Callable[[str], None],
) -> Scored:
    """Keep the previous scored pairs among unchanged named records; score the pairs with at least
    one record marked ``cdp_rescore`` (``incremental.mark_rescored``), with the same blocking rules
    and model and the prior of the last full resolution (``previous``), so that old and new pairs
    weigh alike; pairs from probability ``floor`` on are kept. Intermediate tables go to schema ``work``.
    """
    lam = previous.prior
    prior = f"the last full resolution's ({previous.full_resolved_at:%Y-%m-%d %H:%M}): {lam:.3g}"
    log(f"prior: {prior}")
    started = time.perf_counter()
    kept = _keep_unchanged_pairs(con, work)
    new = 0
    if not con.execute("select count(*) from splink_keyed where cdp_rescore").fetchall()[0][0]:
        log("nothing new to score: no named record is new or changed")
    else:
        new = _score_rescored(con, inputs, model.fit_to_plan(saved, inputs.plan), lam, floor) - kept
    log(f"pairs scored: {new:,} with a new or changed record; {kept:,} kept from the previous run")
    return Scored(new + kept, new, lam, prior, seconds=time.perf_counter() - started)


def _keep_unchanged_pairs(con: duckdb.DuckDBPyConnection, work: str) -> int:
    """Delete the scored pairs with a record to score again or gone; returns the pairs kept."""
    con.execute(
        f"""
        create or replace table {work}.unchanged as
        select unique_id from splink_keyed where not cdp_rescore;
        delete from identity.scored_edges
        where unique_id_l not in (select unique_id from {work}.unchanged)
           or unique_id_r not in (select unique_id from {work}.unchanged);
        """
    )
    return con.execute("select count(*) from identity.scored_edges").fetchall()[0][0]


def _score_rescored(
    con: duckdb.DuckDBPyConnection, inputs: Inputs, fitted: dict, prior: float, floor: float
) -> int:
    """Add to ``identity.scored_edges`` the pairs with a record marked ``cdp_rescore``; returns the
    pairs it then holds.

    Splink works on the records that can be in such a pair only: those marked and those sharing a
    blocking key with one (``predict_within``). Term frequencies are those of all the named
    records (``compute_tf_table`` on the full inputs), as in a full run.
    """
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
    scorer = linker_over(inputs.tables, settings)
    tf_columns = {
        level["tf_adjustment_column"]
        for comparison in fitted["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    for column in sorted(tf_columns):
        scorer.table_management.compute_tf_table(column)
    subsets = _rescore_subsets(con, inputs)
    threshold = threshold_weight(floor)
    predictions = scorer.inference.predict_within(subsets, threshold_match_weight=threshold)
    columns = ", ".join(f'"{c}"' for c, *_ in con.execute("describe identity.scored_edges").fetchall())
    con.execute(
        f"insert into identity.scored_edges by name select {columns} from {predictions.physical_name} "
        f"where match_weight >= {threshold}"
    )
    return con.execute("select count(*) from identity.scored_edges").fetchall()[0][0]


def _rescore_subsets(con: duckdb.DuckDBPyConnection, inputs: Inputs) -> list:
    """Per input, its records marked ``cdp_rescore`` and those sharing a blocking key with one,
    registered with Splink."""
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
    return subsets
