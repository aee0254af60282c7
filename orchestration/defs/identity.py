"""Identity resolution assets (group ``identity``, kind ``splink``).

One step computes the outputs together (they come from the same clustering):
``identity/records`` (standardised identity attributes, what the golden record chooses from),
``identity/customer_source_records`` (record → stable customer_id, method, confidence),
``identity/scored_edges`` (why records were merged) and ``identity/customer_id_history``.
"""

import dataclasses
import json
import time
from collections.abc import Iterable, Iterator

import dagster as dg

from orchestration.defs.common import markdown_table
from orchestration.defs.raw import OWNERS, WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.identity import (
    IDENTITY_RAW_TABLES,
    AccuracyEstimate,
    ResolutionConfig,
    ResolutionResult,
    RunReport,
    assign_stable_ids,
    keep_previous,
    load_identity_settings,
    record_accuracy_estimate,
    record_resolution_run,
    report_run,
    resolve,
)
from orchestration.identity.estimate import describe as describe_estimate
from orchestration.lib.atomic import write_text_atomically
from orchestration.runtime import changes
from orchestration.serving.report import ACCURACY_FILE
from orchestration.settings import Settings, get_settings

UPSTREAM = [dg.AssetKey(["raw", table]) for table in IDENTITY_RAW_TABLES]


class IdentityConfig(dg.Config):
    """Run configuration. ``retrain: true`` fits the Splink model to the warehouse's records (as
    ``cdp identity train`` does); ``full_identity: true`` re-resolves every record instead of only
    the new ones (``cdp run --full-identity``); the others override ``identity.yml`` for this run
    only. Any of them makes the step run even when nothing changed."""

    retrain: bool = False
    full_identity: bool = False
    match_probability: float | None = None
    max_cluster_size: int | None = None


def resolution_config(retrain: bool = False, **overrides: object) -> ResolutionConfig:
    """The identity settings in force (identity.yml), with the model and report paths of this
    CDP_DATA_DIR: a model trained here lives in ``identity/model.json``, its report in
    ``serving/identity/``."""
    settings = get_settings()
    identity = load_identity_settings()
    changed = {k: v for k, v in overrides.items() if v is not None}
    return ResolutionConfig(
        identity=dataclasses.replace(identity, **changed) if changed else identity,
        retrain=retrain,
        trained_model=settings.trained_model_path,
        report_dir=settings.identity_report_dir,
        decisions_file=settings.steward_decisions_path,
    )


def _spec(name: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=["identity", name],
        deps=UPSTREAM,
        group_name="identity",
        kinds={"splink", "duckdb"},
        # Not yielded when nothing changed since the last run: every later step is then skipped.
        skippable=True,
        owners=OWNERS,
        description=description,
        metadata={"dagster/table_name": f"identity.{name}"},
    )


@dg.multi_asset(
    specs=[
        _spec(
            "records",
            "Standardised identity attributes of every identity-bearing source record (names, "
            "e-mail, E.164 phone, address, birth date, identifiers), placeholders removed.",
        ),
        _spec(
            "customer_source_records",
            "One row per identity-bearing source record: its stable customer_id, how it was linked "
            "(deterministic / probabilistic / singleton) and with what confidence.",
        ),
        _spec(
            "scored_edges",
            "Record pairs Splink scored (match weight, probability, level and weight of every "
            "comparison): the explanation of each probabilistic merge.",
        ),
        _spec(
            "customer_id_history",
            "Every customer id created, merged into an older one, or split off, with the run.",
        ),
    ],
    pool=WAREHOUSE_POOL,
    name="identity_resolution",
)
def identity_resolution(
    context: dg.AssetExecutionContext, config: IdentityConfig, warehouse: WarehouseResource
):
    """Standardise, link deterministically, score with Splink, cluster with guards, keep ids stable.

    This step is the gate of everything after ingestion (``orchestration/runtime/changes.py``): when no raw
    table, setting, model or code changed since the last successful run, it yields nothing and
    Dagster skips identity, dbt, the docs and the publication; when only a later stage has
    something to do, identity is passed through without recomputing.
    """
    settings = get_settings()
    resolution = resolution_config(
        config.retrain, match_probability=config.match_probability, max_cluster_size=config.max_cluster_size
    )
    overrides = {
        k: v
        for k, v in (
            ("match_probability", config.match_probability),
            ("max_cluster_size", config.max_cluster_size),
        )
        if v is not None
    }
    forced = config.retrain or config.full_identity or bool(overrides)
    with warehouse.get_connection() as con:
        plan = changes.plan(con, settings)
        if not forced and (plan.nothing_to_do or plan.reasons["identity"] is None):
            yield from _not_recomputed(context, plan, identity_resolution.specs)
            return
        started = time.perf_counter()
        kept = None if forced else keep_previous(con, resolution, log=context.log.info)
        if kept is not None:
            # The run's record a resolution would append (the same counts and shares as before).
            record_resolution_run(con, context.run.run_id)
            # ... and the accuracy estimate an increment reports: the last one, again.
            estimate = record_accuracy_estimate(
                con, context.run.run_id, recompute=False, threshold=resolution.identity.match_probability
            )
            _publish_estimate(settings, estimate)
            changes.record(
                con, "identity", changes.stage_inputs(con, settings)["identity"], context.run.run_id
            )
            yield from _kept(kept, time.perf_counter() - started, identity_resolution.specs, estimate)
            return
        result = resolve(con, resolution, log=context.log.info, full=config.full_identity)
        started = time.perf_counter()
        ids = assign_stable_ids(con, context.run.run_id)
        # The shares the identity quality checks compare with the previous run's (and the metadata).
        shares = record_resolution_run(con, context.run.run_id)
        stage_seconds = {**result.seconds, "stable_ids": time.perf_counter() - started}
        # Recall and precision estimated without a truth file, kept run after run (an increment
        # reports the last full resolution's: identity.estimate.record_accuracy_estimate).
        started = time.perf_counter()
        estimate = record_accuracy_estimate(
            con,
            context.run.run_id,
            recompute=result.mode == "full",
            threshold=resolution.identity.match_probability,
        )
        stage_seconds["accuracy_estimate"] = time.perf_counter() - started
        _publish_estimate(settings, estimate)
        report = report_run(con, settings.truth_identities_file)
        # Overrides are remembered as an input: the next run without them resolves again.
        # Read again, not taken from the plan: a first run trains the model it then uses.
        inputs = changes.stage_inputs(con, settings)["identity"]
        inputs |= {"run overrides": str(overrides)} if overrides else {}
        changes.record(con, "identity", inputs, context.run.run_id)
    common = _run_metadata(plan, result, ids, report, stage_seconds)
    yield dg.MaterializeResult(
        asset_key=["identity", "records"], metadata={"dagster/row_count": result.records}
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "customer_source_records"],
        metadata={**common, **_customer_metadata(result, shares, report, estimate)},
    )
    yield dg.MaterializeResult(asset_key=["identity", "scored_edges"], metadata=_scored_metadata(result))
    yield dg.MaterializeResult(asset_key=["identity", "customer_id_history"], metadata=common)


def _publish_estimate(settings: Settings, estimate: AccuracyEstimate) -> None:
    """The run's accuracy estimate beside the published file, for the KPI report (written with the
    publication's other files; read only once the marts are published)."""
    settings.serving_dir.mkdir(parents=True, exist_ok=True)
    said = {"line": describe_estimate(estimate), **estimate.as_dict()}
    write_text_atomically(settings.serving_dir / ACCURACY_FILE, json.dumps(said))


def _not_recomputed(
    context: dg.AssetExecutionContext, plan: changes.Plan, specs: Iterable[dg.AssetSpec]
) -> Iterator[dg.MaterializeResult]:
    """Nothing changed since the last run: yield nothing (every later step is skipped). Only a later
    stage has something to do: pass identity through, unchanged."""
    if plan.nothing_to_do:
        context.log.info(f"skipped: {plan.skip_line()}")
        # Also on the asset's page in the UI: why its last run did not materialize it.
        context.log_event(
            dg.AssetObservation(
                asset_key=["identity", "customer_source_records"],
                metadata={"skipped": plan.skip_line(), "unchanged_since_run": plan.last_run or ""},
            )
        )
        return
    later = "; ".join(f"{s}: {r}" for s, r in plan.reasons.items() if r is not None)
    reason = f"identity inputs unchanged since run {plan.last_run}: not recomputed ({later})"
    context.log.info(reason)
    for spec in specs:
        yield dg.MaterializeResult(asset_key=spec.key, metadata={"recomputed": False, "reason": reason})


def _kept(
    reason: str, seconds: float, specs: Iterable[dg.AssetSpec], estimate: AccuracyEstimate
) -> Iterator[dg.MaterializeResult]:
    """Identity's inputs changed, none of its records did: every output is the previous run's.
    Materialized all the same, so that dbt builds the day's other facts."""
    metadata = {
        "recomputed": False,
        "reason": reason,
        "mode": "kept",
        "stage_seconds": dg.MetadataValue.json({"keep_previous": round(seconds, 2)}),
    }
    # The estimate goes with the customer records, as a resolution's metadata does.
    with_estimate = {**metadata, "accuracy_estimate": dg.MetadataValue.json(estimate.as_dict())}
    for spec in specs:
        customers = spec.key.path[-1] == "customer_source_records"
        yield dg.MaterializeResult(asset_key=spec.key, metadata=with_estimate if customers else metadata)


def _run_metadata(
    plan: changes.Plan,
    result: ResolutionResult,
    ids: dict[str, int],
    report: RunReport,
    stage_seconds: dict[str, float],
) -> dict[str, object]:
    """What the run did, on the customer records and the id history."""
    return {
        "recomputed": True,
        "reason": plan.reasons["identity"] or "run requested",
        # "full" or "incremental", and why (a full re-resolution when settings, model or code changed).
        "mode": result.mode,
        "mode_reason": result.mode_reason,
        "records_in": result.records,
        "customers_out": ids["customers"],
        "ids_created": ids["created"],
        "ids_merged": ids["merged"],
        "ids_split": ids["split"],
        "flagged_clusters": result.flagged_clusters,
        "anonymous_visitors": report.anonymous_visitors,
        "model_trained_this_run": result.trained,
        "model": result.model_source,
        "prior": result.prior,
        "stage_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in stage_seconds.items()}),
        # Finer: every step of the resolution, for profiling a day against a full run.
        "step_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in result.steps.items()}),
        # All records in a full run; in an increment the part its changes touched.
        "records_clustered": result.clustered_records,
        # The steward's decisions in force, and whether each holds (cdp identity decisions list).
        "steward_decisions": dg.MetadataValue.json(
            [dict(zip(("decision_id", "kind", "holds", "note"), r, strict=True)) for r in result.decisions]
        ),
    }


def _customer_metadata(
    result: ResolutionResult, shares: dict[str, float | None], report: RunReport, estimate: AccuracyEstimate
) -> dict[str, object]:
    """How the records were linked, how many each customer holds, how right they are estimated to
    be without a truth file (``identity.estimate``) and, with one, how right they are."""
    return {
        "dagster/row_count": result.records,
        "share_by_method": dg.MetadataValue.json(
            {k.removesuffix("_share"): round(v, 4) for k, v in shares.items() if v is not None}
        ),
        "records_per_customer": dg.MetadataValue.md(
            markdown_table(["records", "customers"], report.records_per_customer[:30])
        ),
        # Pairwise recall from hidden keys and expected pairwise precision, with what they rest on.
        "accuracy_estimate": dg.MetadataValue.json(estimate.as_dict()),
        **({"accuracy_vs_truth": dg.MetadataValue.json(report.accuracy)} if report.accuracy else {}),
        # True pairs left apart, by what the two parts of the person share (evaluate.MissedPairs),
        # and the true pairs of named records no blocking rule compares (evaluate.BlockingRecall).
        **({"missed_pairs_vs_truth": dg.MetadataValue.json(report.missed)} if report.missed else {}),
    }


def _scored_metadata(result: ResolutionResult) -> dict[str, object]:
    """The scored pairs: how many, how many were used or refused, with which model and prior."""
    return {
        "dagster/row_count": result.scored_pairs,
        "probabilistic_edges_used": result.probabilistic_edges,
        "edges_refused_by_guards": result.guarded_edges,
        "model": result.model_source,
        "prior": result.prior,
        # Fields populated, and the comparisons and rules they allow (model.ModelPlan).
        "active_model": dg.MetadataValue.json(result.plan),
        # An increment scores the pairs of its new and changed records only; a full run all.
        "pairs_scored_this_run": result.pairs_scored_this_run,
        # The pair budget, each key's block cap and pairs, and the share of expected matches more than
        # one rule finds (an estimate of blocking recall without a truth file).
        "blocking": dg.MetadataValue.json(result.blocking),
        "pairs_per_blocking_rule": dg.MetadataValue.md(
            markdown_table(
                ["blocking rule", "pairs it compares (rules overlap)"],
                [(k, f"{n:,}") for k, n in result.comparisons_per_rule.items()],
            )
        ),
    }


defs = dg.Definitions(assets=[identity_resolution])
