"""Steward jobs for the Dagster UI: the same merge, split and revocation as ``cdp identity merge``,
``split`` and ``decisions revoke`` (``orchestration/identity/decisions.py``), and the approval of a
publication held back by the merge-impact preview (``cdp identity approve``,
``orchestration/serving/impact.py``), launched from the Launchpad with config.

A decision is recorded in the data folder and applied by the next identity resolution, which
``apply_steward_decisions`` requests (a ``full_pipeline`` run) as soon as a decision job succeeds:
only the records of the decision are clustered again, and the marts follow.
"""

from typing import Literal

import dagster as dg

from orchestration.defs.automation import WRITE_TAGS, full_pipeline_job
from orchestration.defs.raw import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.identity.decisions import CANNOT_LINK, MUST_LINK, decide, revoke
from orchestration.serving import impact
from orchestration.settings import get_settings


class DecisionConfig(dg.Config):
    """``merge``: a and b are one customer (a must-link); ``split``: they are kept apart for good (a
    cannot-link). a: a customer id or record ids (source_system:source_record_id, comma-separated);
    b: a customer id or a record id. why: kept for the audit; by: who decides."""

    action: Literal["merge", "split"]
    a: str
    b: str
    why: str
    by: str = "dagster"


class ApproveConfig(dg.Config):
    why: str
    by: str = "dagster"


class RevokeConfig(dg.Config):
    decision_id: str
    why: str
    by: str = "dagster"


@dg.op(pool=WAREHOUSE_POOL, tags={"kind": "identity"})
def record_decision(
    context: dg.OpExecutionContext, config: DecisionConfig, warehouse: WarehouseResource
) -> None:
    """Record a steward's merge or split; the pipeline run this job's success requests applies it."""
    kind = MUST_LINK if config.action == "merge" else CANNOT_LINK
    with warehouse.get_connection() as con:
        path = get_settings().steward_decisions_path
        decision = decide(con, path, kind, config.a.split(","), config.b, config.why, config.by)
    context.log.info(f"{decision.decision_id}: {config.action} {decision.named_a} and {decision.named_b}")
    context.add_output_metadata(
        {
            "decision_id": decision.decision_id,
            "kind": decision.kind,
            "records": len(decision.side_a) + len(decision.side_b),
            "decided_by": decision.decided_by,
            "why": decision.why,
        }
    )


@dg.op(tags={"kind": "identity"})
def revoke_decision(context: dg.OpExecutionContext, config: RevokeConfig) -> None:
    """Revoke a steward decision; the pipeline run this job's success requests applies it."""
    decision = revoke(get_settings().steward_decisions_path, config.decision_id, config.why, config.by)
    context.log.info(f"{decision.decision_id} revoked by {decision.revoked_by}")
    context.add_output_metadata({"decision_id": decision.decision_id, "revoked_by": decision.revoked_by})


@dg.op(pool=WAREHOUSE_POOL, tags={"kind": "identity"})
def approve_impact(
    context: dg.OpExecutionContext, config: ApproveConfig, warehouse: WarehouseResource
) -> None:
    """Approve the identity change the last run held back (the merge-impact preview of
    ``serving/identity_impact``); the pipeline run this job's success requests publishes it."""
    with warehouse.get_connection() as con:
        current = impact.preview(con, get_settings().published_marts_path)
        if not current.first_publication:
            impact.approve(con, current, config.by, config.why)
    context.log.info(f"approved: {current.describe()}")
    context.add_output_metadata({"preview": current.describe(), "digest": current.digest})


@dg.job(tags=WRITE_TAGS, description="Record a steward's merge or split (config: action, a, b, why, by).")
def identity_steward_decision() -> None:
    record_decision()


@dg.job(tags=WRITE_TAGS, description="Revoke a steward decision (config: decision_id, why, by).")
def identity_revoke_decision() -> None:
    revoke_decision()


@dg.job(tags=WRITE_TAGS, description="Approve the identity change a run held back (config: why, by).")
def identity_approve_impact() -> None:
    approve_impact()


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[identity_steward_decision, identity_revoke_decision, identity_approve_impact],
    request_job=full_pipeline_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Applies a steward decision (a pipeline run clusters its records again) or an approval "
    "(the run publishes).",
)
def apply_steward_decisions(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    run = context.dagster_run
    tags = {"cdp/launched_by": f"steward decision {run.run_id}"}
    return dg.RunRequest(run_key=f"apply-{run.run_id}", tags=tags)


defs = dg.Definitions(
    jobs=[identity_steward_decision, identity_revoke_decision, identity_approve_impact],
    sensors=[apply_steward_decisions],
)
