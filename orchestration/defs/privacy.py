"""Privacy jobs for the Dagster UI: the same erasure and retention as ``cdp privacy erase`` and
``cdp privacy retention`` (``orchestration/privacy/``), launched from the Launchpad with config.

An erasure deletes the person's raw rows and suppresses them; everything derived from raw is then
derived again by a ``full_pipeline`` run, which ``rebuild_after_erasure`` requests as soon as a
privacy job that erased something succeeds.
"""

import dagster as dg

from orchestration.defs.automation import WRITE_TAGS, full_pipeline_job
from orchestration.defs.common import markdown_table
from orchestration.defs.raw import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.privacy.erase import erase, review_retention
from orchestration.privacy.subject import find_subject
from orchestration.settings import get_settings


class ErasureConfig(dg.Config):
    """Exactly one identifier of the person, as they give it."""

    email: str | None = None
    phone: str | None = None
    customer_id: str | None = None


class RetentionConfig(dg.Config):
    apply: bool = False  # False: the dry run, a report of who is due and nothing erased


@dg.op(pool=WAREHOUSE_POOL, tags={"kind": "privacy"})
def erase_person(context: dg.OpExecutionContext, config: ErasureConfig, warehouse: WarehouseResource) -> None:
    """Right to erasure: the person's raw rows deleted and suppressed, the request audited."""
    settings = get_settings()
    with warehouse.get_connection() as con:
        subject = find_subject(con, email=config.email, phone=config.phone, customer_id=config.customer_id)
        erasure = erase(con, subject, settings.data_dir)
    context.log.info(f"request {erasure.request_id}: {erasure.total_rows} raw rows erased")
    context.add_output_metadata(
        {
            "request_id": erasure.request_id,
            "customers": erasure.customers,
            "rows_removed": dg.MetadataValue.md(
                markdown_table(["table", "rows"], erasure.rows_removed.items())
            ),
            "suppression_entries": erasure.suppression_entries,
        }
    )


@dg.op(pool=WAREHOUSE_POOL, tags={"kind": "privacy"})
def apply_retention(
    context: dg.OpExecutionContext, config: RetentionConfig, warehouse: WarehouseResource
) -> None:
    """Customers past their retention window: reported (dry run), or erased with ``apply``."""
    with warehouse.get_connection() as con:
        review = review_retention(con, get_settings().data_dir, config.apply)
    context.log.info(f"{len(review.due)} customer(s) past their retention window: {review.report}")
    metadata = {
        "due": len(review.due),
        "report": dg.MetadataValue.path(str(review.report)),
        "applied": config.apply,
    }
    if review.erasure is not None:
        metadata |= {"request_id": review.erasure.request_id, "rows_erased": review.erasure.total_rows}
    context.add_output_metadata(metadata)


@dg.job(tags=WRITE_TAGS, description="Erase one person (config: email, phone or customer_id).")
def privacy_erase() -> None:
    erase_person()


@dg.job(
    tags=WRITE_TAGS,
    description="Customers past their retention window: a dry-run report, or their erasure (apply: true).",
)
def privacy_retention() -> None:
    apply_retention()


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[privacy_erase, privacy_retention],
    request_job=full_pipeline_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Derives everything again (identity, marts, serving, audiences) after an erasure.",
)
def rebuild_after_erasure(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    run = context.dagster_run
    if run.job_name == privacy_retention.name and not run.run_config.get("ops", {}).get(
        "apply_retention", {}
    ).get("config", {}).get("apply"):
        return dg.SkipReason("a retention dry run erased nothing")
    return dg.RunRequest(
        run_key=f"rebuild-after-{run.run_id}", tags={"cdp/launched_by": f"erasure {run.run_id}"}
    )


defs = dg.Definitions(jobs=[privacy_erase, privacy_retention], sensors=[rebuild_after_erasure])
