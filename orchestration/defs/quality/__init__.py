"""Great Expectations suites as Dagster asset checks, one check per expectation.

Each asset with a suite (``orchestration/quality/suites.py``) gets one multi-asset check op that
validates the suite once and reports every expectation as its own check, so the Dagster UI shows
per asset what was checked, what failed and why (expectation, observed value, failing examples).
Critical expectations are blocking checks: when one fails, nothing downstream of that asset
materializes in the run. Results also land in ``serving/quality/`` (``index.html``).
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import duckdb

from orchestration.defs.raw import WAREHOUSE_POOL, raw_asset_key
from orchestration.defs.resources import WarehouseResource
from orchestration.exports import ALL_TABLES
from orchestration.quality.gx import Outcome, Suite, validate
from orchestration.quality.report import write_results
from orchestration.quality.suites import build_suites
from orchestration.settings import get_quality_settings, get_settings


def _metadata(outcome: Outcome, report: str) -> dict[str, dg.MetadataValue]:
    expectation = outcome.check.expectation
    config = {
        k: v
        for k, v in expectation.configuration.kwargs.items()
        if v is not None and k not in ("batch_id", "result_format")
    }
    metadata: dict[str, dg.MetadataValue] = {
        "expectation": dg.MetadataValue.text(expectation.expectation_type),
        "arguments": dg.MetadataValue.json(config),
        "severity": dg.MetadataValue.text("critical" if outcome.check.critical else "warning"),
        "quality_report": dg.MetadataValue.path(report),
    }
    if outcome.observed is not None:
        metadata["observed_value"] = dg.MetadataValue.text(str(outcome.observed))
    if outcome.unexpected_count is not None:
        metadata["unexpected_rows"] = dg.MetadataValue.int(int(outcome.unexpected_count))
    if outcome.unexpected_percent is not None:
        metadata["unexpected_percent"] = dg.MetadataValue.float(round(float(outcome.unexpected_percent), 4))
    if outcome.examples:
        metadata["failing_examples"] = dg.MetadataValue.json([str(e) for e in outcome.examples])
    if outcome.error:
        metadata["error"] = dg.MetadataValue.text(outcome.error)
    return metadata


def _landing_lines(con: duckdb.DuckDBPyConnection, suite: Suite, outcome: Outcome) -> list[str]:
    """Where a failed raw column check's example values came from: ``landing/<file> line <n>``.

    Raw rows carry their lineage, so a failing value is traced to its delivered file and line
    (up to five); other checks (aggregates, other layers) have no single row to point at.
    """
    column = outcome.check.expectation.configuration.kwargs.get("column")
    if suite.asset_key[0] != "raw" or not column or not outcome.unexpected_count:
        return []
    values = [str(v) for v in outcome.examples if v is not None]
    conditions = [f'"{column}" is null'] if None in outcome.examples else []
    if values:
        conditions.append(f'"{column}"::varchar in ({", ".join("?" for _ in values)})')
    if not conditions:
        return []
    try:
        rows = con.execute(
            f"select _source_file, _source_line from raw.{suite.asset_key[1]} "
            f"where {' or '.join(conditions)} order by 1, 2 limit 5",
            values,
        ).fetchall()
    except duckdb.Error:
        return []
    return [f"landing/{f} line {n}" for f, n in rows]


def build_suite_checks(suite: Suite) -> dg.AssetChecksDefinition:
    """The checks of one asset's suite: names and severities from ``suite``; thresholds are read
    again from the environment at every run."""
    key = dg.AssetKey(list(suite.asset_key))

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                name=check.name,
                asset=key,
                blocking=check.critical,
                description=f"[{'critical' if check.critical else 'warning'}] "
                f"{check.expectation.description or check.name}",
                metadata={"engine": "great_expectations"},
            )
            for check in suite.checks
        ],
        name=f"gx_{suite.name}",
        description=f"Great Expectations suite of {key.to_user_string()}",
        pool=WAREHOUSE_POOL,
    )
    def _checks(warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
        current = next(s for s in build_suites(get_quality_settings()) if s.asset_key == suite.asset_key)
        with warehouse.get_connection() as con:
            outcomes, gx_result = validate(con, current)
            where = {o.check.name: _landing_lines(con, current, o) for o in outcomes if not o.success}
        report = write_results(get_settings().serving_dir, current, outcomes, gx_result)
        for outcome in outcomes:
            lines = where.get(outcome.check.name)
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=outcome.check.name,
                passed=outcome.success,
                severity=(
                    dg.AssetCheckSeverity.ERROR if outcome.check.critical else dg.AssetCheckSeverity.WARN
                ),
                description=outcome.reason + (f"; at {', '.join(lines)}" if lines else ""),
                metadata=_metadata(outcome, str(report)),
            )

    return _checks


CHECKS = [build_suite_checks(s) for s in build_suites(get_quality_settings())]

quality_checks_job = dg.define_asset_job(
    "quality_checks",
    # Every GX suite plus the raw layer's row reconciliation; dbt tests run with `dbt test`.
    selection=dg.AssetSelection.checks(*CHECKS)
    | dg.AssetSelection.checks_for_assets(*(raw_asset_key(t) for t in ALL_TABLES)),
    description="Run every data quality check against the warehouse as it is, materializing nothing.",
    tags={"cdp/warehouse": "write"},
)

defs = dg.Definitions(asset_checks=CHECKS, jobs=[quality_checks_job])
