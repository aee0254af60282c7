"""Serving assets (group ``serving``): what BI tools and people read, never the warehouse itself.

- ``serving/marts``: ``serving/marts.duckdb`` and ``serving/parquet/`` (``orchestration/serving/publish.py``);
- ``serving/dbt_docs``: the dbt documentation site, one static page, in ``serving/dbt_docs/``;
- ``serving/kpi_report``: the KPI report, ``serving/report/index.html``, read from the published file;
- ``serving/identity_kpi_range``: the headline KPIs at a stricter and a looser match threshold
  (``orchestration/serving/kpi_range.py``), weekly and on demand (job ``identity_kpi_range``), not
  in the daily pipeline: it builds the headline marts twice more.

They depend on every mart, so they run after dbt has built the marts and their blocking checks
passed: a run whose marts fail a critical check leaves the previous publication in place.
"""

import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.defs.automation import WRITE_TAGS
from orchestration.defs.common import IDENTITY_KPI_RANGE_KEY, OWNERS, WAREHOUSE_POOL, markdown_table
from orchestration.defs.resources import WarehouseResource
from orchestration.identity import variants
from orchestration.identity.config import load_identity_settings
from orchestration.lib.atomic import write_text_atomically
from orchestration.lib.dbt import ensure_manifest
from orchestration.lib.dbt_project import built_project_artifacts
from orchestration.runtime import changes
from orchestration.serving import impact, kpi_range
from orchestration.serving.publish import (
    marts_from_manifest,
    pseudonym_salt,
    publish_marts,
    published_previews,
)
from orchestration.serving.report import write_report
from orchestration.settings import get_settings

MARTS = marts_from_manifest(ensure_manifest())
MART_KEYS = [dg.AssetKey(m.asset_key) for m in MARTS]
PREVIEW_ROWS = 5
TAGS = {"layer": "serving"}


def _file_link(path: Path) -> dict[str, dg.MetadataValue]:
    """A path to copy and a file:// link to click (browsers may refuse file links from http pages)."""
    return {"path": dg.MetadataValue.path(str(path)), "open": dg.MetadataValue.url(path.as_uri())}


IMPACT_KEY = dg.AssetKey(["serving", "identity_impact"])
IMPACT_CHECK = "within_limit_or_approved"


@dg.asset(
    key=IMPACT_KEY,
    deps=MART_KEYS,
    group_name="serving",
    kinds={"duckdb"},
    owners=OWNERS,
    tags=TAGS,
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            IMPACT_CHECK,
            asset=IMPACT_KEY,
            blocking=True,
            description="[critical] the customers this run's ids change against the last publication "
            "stay within CDP_IDENTITY_IMPACT_LIMIT, or a person approved the change "
            "(`cdp identity approve`); otherwise the publication waits",
        )
    ],
    description=(
        "The merge-impact preview: what the warehouse's customer ids change against the published ones "
        "(records moved, customers merged and split) and the headline KPIs of the last closed period "
        "as published and as they would be. Above `CDP_IDENTITY_IMPACT_LIMIT` the publication waits "
        "for approval (docs/identity.md)."
    ),
)
def identity_impact(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Preview the identity change a publication would carry; hold the publication above the limit."""
    settings = get_settings()
    with warehouse.get_connection() as con:
        current = impact.preview(con, settings.published_marts_path)
        approval = None if current.first_publication else impact.approved(con, current.digest)
    limit = settings.identity_impact_limit
    within = current.first_publication or current.share_changed <= limit
    passed = within or approval is not None
    verdict = (
        "within the limit"
        if within
        else f"above the limit ({limit:.2%}), {approval}"
        if approval
        else f"above the limit ({limit:.2%}): the publication waits for approval (`cdp identity approve`, "
        "or the job identity_approve_impact)"
    )
    line = f"identity impact: {current.describe()}; {verdict}"
    (context.log.info if passed else context.log.warning)(line)
    said = {"line": current.describe(), "verdict": verdict, "preview": current.as_dict()}
    settings.serving_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(settings.serving_dir / impact.IMPACT_FILE, json.dumps(said, default=str))
    kpis = [(name, *values) for name, values in current.kpis.items()]
    metadata = {
        "preview": dg.MetadataValue.text(line),
        "share_of_customers_changed": round(current.share_changed, 6),
        "customers_changed": current.customers_changed,
        "records_moved": current.records_moved,
        "customers_merged": current.merged,
        "customers_split": current.split,
        "period": current.period or "",
        "kpis": dg.MetadataValue.md(markdown_table(["KPI", "published", "new", "change"], kpis)),
        "digest": current.digest,
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=IMPACT_CHECK,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=line,
                metadata={"reason": dg.MetadataValue.text(line), "limit": limit},
            )
        ],
    )


@dg.asset(
    key=["serving", "marts"],
    deps=[*MART_KEYS, IMPACT_KEY],
    group_name="serving",
    kinds={"duckdb", "parquet"},
    owners=OWNERS,
    tags=TAGS,
    pool=WAREHOUSE_POOL,
    description=(
        "The marts, published for BI tools: `serving/marts.duckdb` (written under a temporary name "
        "and renamed into place, so readers never see a half-written file and never lock the "
        "warehouse) and `serving/parquet/<mart>.parquet`; only the tables whose content fingerprint "
        "changed are written again, the others are kept from the previous publication. PII "
        "columns are pseudonymous keys unless `CDP_SERVING_PII` lists them; codes get a "
        "`<column>_label` in `CDP_REPORT_LANGUAGE`; types, comments and labels are what BI "
        "drivers read (docs/serving.md)."
    ),
)
def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Copy the marts that changed out of the warehouse; record each mart's row count and a preview on it."""
    settings = get_settings()
    with warehouse.get_connection() as con:
        publication = publish_marts(
            con,
            MARTS,
            settings.published_marts_path,
            settings.parquet_dir,
            salt=pseudonym_salt(settings.pseudonym_salt_file),
            clear_pii=settings.clear_pii,
            run_id=context.run.run_id,
            language=settings.report_language,
        )
        changes.record(con, "serving", changes.plan(con, settings).inputs["serving"], context.run.run_id)
    context.log.info(f"published {publication.path}: {publication.summary}")
    keys = {m.name: m.asset_key for m in MARTS}
    for mart, (columns, rows) in published_previews(publication.path, MARTS, PREVIEW_ROWS).items():
        # Row counts and previews land on the dbt assets themselves, as observations: the dbt step
        # cannot count while its subprocess holds the warehouse.
        context.log_event(
            dg.AssetObservation(
                asset_key=dg.AssetKey(keys[mart]),
                metadata={
                    "dagster/row_count": publication.rows[mart],
                    "published_preview": dg.MetadataValue.md(markdown_table(columns, rows)),
                    "published_as": dg.MetadataValue.path(str(publication.path)),
                },
            )
        )
    return dg.MaterializeResult(
        metadata={
            **_file_link(publication.path),
            "parquet_dir": dg.MetadataValue.path(str(publication.parquet_dir)),
            "marts": len(publication.rows),
            "publication": publication.summary,
            "tables_rewritten": len(publication.rewritten),
            "tables_kept": len(publication.kept),
            "rewritten": dg.MetadataValue.json(publication.rewritten),
            "size_mb": round(publication.bytes / 1e6, 1),
            "rows_per_mart": dg.MetadataValue.md(markdown_table(["mart", "rows"], publication.rows.items())),
            "pseudonymised_columns": dg.MetadataValue.json(publication.pseudonymised),
            "published_at": publication.published_at,
        }
    )


@dg.asset(
    key=["serving", "dbt_docs"],
    deps=MART_KEYS,
    group_name="serving",
    kinds={"dbt"},
    owners=OWNERS,
    tags=TAGS,
    pool=WAREHOUSE_POOL,
    description=(
        "`dbt docs generate --static`: the dbt documentation (models, columns, KPI definitions, "
        "lineage) as one self-contained page, `serving/dbt_docs/index.html`, with its manifest "
        "and catalog. Regenerated only when the dbt project changed (or the page is missing)."
    ),
    output_required=False,
)
def dbt_docs(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Generated in a scratch target folder, then each file renamed into ``serving/dbt_docs``.

    The docs describe models and columns, which only the dbt project changes: with the project as
    the last generation left it, the step yields nothing (about 7 s saved at any size).
    """
    settings = get_settings()
    with warehouse.get_connection() as con:
        plan = changes.plan(con, settings)
    if plan.reasons["docs"] is None:
        context.log.info(
            f"skipped: the dbt project is as the docs of run {plan.previous_run('docs')} described it"
        )
        return
    out = settings.dbt_docs_dir
    out.mkdir(parents=True, exist_ok=True)
    scratch_root = settings.tmp_dir
    scratch_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
        _generate_docs(context, dbt, Path(scratch))
        for source, name in (
            ("static_index.html", "index.html"),
            ("manifest.json", None),
            ("catalog.json", None),
        ):
            partial = out / f".{name or source}.tmp"
            shutil.copyfile(Path(scratch) / source, partial)
            partial.replace(out / (name or source))
    with warehouse.get_connection() as con:
        changes.record(con, "docs", plan.inputs["docs"], context.run.run_id)
    yield dg.MaterializeResult(metadata={**_file_link(out / "index.html"), "reason": plan.reasons["docs"]})


def _generate_docs(context: dg.AssetExecutionContext, dbt: DbtCliResource, target: Path) -> None:
    """``dbt docs generate --static`` into ``target``, from the build's compiled project if it can.

    A fresh target folder means parsing and compiling all 59 models and 175 tests again, which the
    ``dbt build`` just before this step did: from a copy of its manifest and parsed project, dbt only
    queries the warehouse's catalog (``--no-compile``). Anything else (no build yet, the project
    changed since, a file gone meanwhile) compiles as before.
    """
    built = built_project_artifacts(get_settings().dbt_target_dir)
    if built is not None:
        try:
            for name in ("manifest.json", "partial_parse.msgpack"):
                shutil.copyfile(built / name, target / name)
        except OSError as error:
            context.log.info(f"compiling the project for the docs: the build's files are gone ({error})")
        else:
            context.log.info(f"docs from the project compiled by the build ({built.name}): catalog only")
            dbt.cli(["docs", "generate", "--static", "--no-compile"], target_path=target).wait()
            return
    dbt.cli(["docs", "generate", "--static"], target_path=target).wait()


@dg.asset(
    key=["serving", "kpi_report"],
    deps=[published_marts.key],
    group_name="serving",
    kinds={"python", "html"},
    owners=OWNERS,
    tags=TAGS,
    description=(
        "The KPI report, `serving/report/index.html`: multichannel rate, value by number of "
        "channels, retention omni vs mono, NPS/CSAT/CES by touchpoint, irritants and delights, "
        "channel transitions, click & collect delays, identity resolution and data quality. "
        "Self-contained (inline SVG, no script): it opens offline."
    ),
)
def kpi_report() -> dg.MaterializeResult:
    """Read from the published file like any BI tool, so it never waits on the warehouse."""
    settings = get_settings()
    report = write_report(settings.published_marts_path, settings.quality_dir, settings.report_dir)
    headline = {k: v for k, v in report.headline.items() if v is not None}
    return dg.MaterializeResult(
        metadata={
            **_file_link(report.path),
            "charts": report.charts,
            "headline": dg.MetadataValue.json(headline),
            "dbt_docs": dg.MetadataValue.path(str(settings.dbt_docs_dir / "index.html")),
        }
    )


@dg.asset(
    key=IDENTITY_KPI_RANGE_KEY,
    deps=[
        dg.AssetKey(["identity", "customer_source_records"]),
        *(dg.AssetKey(["marts", mart]) for mart in kpi_range.HEADLINE_MARTS),
    ],
    group_name="serving",
    kinds={"dbt", "duckdb"},
    owners=OWNERS,
    tags=TAGS,
    pool=WAREHOUSE_POOL,
    description=(
        "The headline KPIs of the last closed period (customers, new and active customers, "
        "12-month retention, multichannel and omnichannel rates) with customers clustered at a "
        "stricter and a looser match threshold (identity.yml `kpi_range`) beside the published "
        "ones: how much each figure depends on identity decisions. The project's own dbt models "
        "build each variant; a time series in `identity_range.kpi_range`, the last range in "
        "`serving/identity_kpi_range.json` for the KPI report. Weekly and on demand (docs/kpis.md)."
    ),
)
def identity_kpi_range(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Cluster the records at each threshold of the range, build the headline marts of each variant
    with dbt, read their KPIs beside the published ones, and drop the variants' tables."""
    settings = get_settings()
    identity = load_identity_settings()
    built = built_project_artifacts(settings.dbt_target_dir)
    if built is None:
        raise dg.Failure(
            "no whole dbt build of the project as it is in this data folder: run the pipeline first "
            "(the range reads every model it does not rebuild from that build)"
        )
    thresholds = variants.thresholds(identity)
    with warehouse.get_connection() as con:
        clustered = variants.cluster_variants(con, identity, thresholds)
    for variant, (customers, seconds) in clustered.items():
        context.log.info(
            f"{variant} (p ≥ {thresholds[variant]:g}): {customers:,} customers, clustered in {seconds:.1f} s"
        )
    try:
        for variant in thresholds:
            # One folder per variant, kept: its parsed project (written with this variant's vars)
            # spares the next build of the variant a whole parse.
            target = settings.dbt_target_dir / f"identity_range_{variant}"
            state = target / "state"
            state.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built / "manifest.json", state / "manifest.json")
            dbt.cli(kpi_range.dbt_args(variant, str(state)), target_path=target).wait()
        with warehouse.get_connection() as con:
            result = kpi_range.read_range(con, identity.range_thresholds, datetime.now(UTC))
            kpi_range.record(con, result, context.run.run_id)
    finally:
        with warehouse.get_connection() as con:
            kpi_range.drop_variants(con, list(thresholds))
            variants.drop_records(con)
    line = result.describe()
    context.log.info(f"identity KPI range, period {result.period}: {line}")
    settings.serving_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(
        settings.serving_dir / kpi_range.RANGE_FILE, json.dumps({"line": line, **result.as_dict()})
    )
    return dg.MaterializeResult(
        metadata={
            "period": result.period or "",
            "range": dg.MetadataValue.md(markdown_table(result.header(), result.shown_rows())),
            **{f"{variant}_customers": customers for variant, (customers, _) in clustered.items()},
        }
    )


identity_kpi_range_job = dg.define_asset_job(
    "identity_kpi_range",
    selection=dg.AssetSelection.assets(IDENTITY_KPI_RANGE_KEY),
    description="The headline KPIs at a stricter and a looser match threshold, beside the published ones.",
    tags=WRITE_TAGS,
)


@dg.schedule(
    name="weekly_identity_kpi_range",
    job=identity_kpi_range_job,
    cron_schedule="0 7 * * 0",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every Sunday at 07:00 Paris time, the identity KPI range (the headline marts built "
    "twice more: not in the daily pipeline).",
)
def weekly_identity_kpi_range(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest()


defs = dg.Definitions(
    assets=[identity_impact, published_marts, dbt_docs, kpi_report, identity_kpi_range],
    jobs=[identity_kpi_range_job],
    schedules=[weekly_identity_kpi_range],
)
