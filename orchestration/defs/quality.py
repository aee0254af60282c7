"""Great Expectations suites as Dagster asset checks, one check per expectation.

Each layer (raw, identity, marts) gets one multi-asset check step that validates the suite of
each of its assets once (the raw step also reconciles each raw table's rows with the load log)
and reports every expectation as its own check of its asset, so the Dagster UI shows per asset
what was checked, what failed and why (expectation, observed value, failing examples). Critical
expectations are blocking checks: when one fails, nothing downstream materializes in the run.
Results also land in ``serving/quality/`` (``index.html``).

A step pays Great Expectations' fixed costs once, not once per suite: one GX context and SQL data
source for all its suites (``gx_context``), and one rebuild of ``index.html`` at its end, after
each suite's JSON result is written.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import duckdb

from orchestration.defs.raw import (
    RECONCILIATION_CHECK,
    WAREHOUSE_POOL,
    raw_asset_key,
    reconcile,
    reconciliation_spec,
)
from orchestration.defs.resources import WarehouseResource
from orchestration.exports import ALL_TABLES, MappingError, effective_tables
from orchestration.exports.spec import ExportTable
from orchestration.quality import scope
from orchestration.quality.gx import Outcome, Suite, gx_context, validate
from orchestration.quality.messages import text_of
from orchestration.quality.report import INDEX, write_index, write_validation
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
        # A row a query check found reads "customer_id "C1", records 65", not as a Python dict.
        metadata["failing_examples"] = dg.MetadataValue.json(
            [text_of(e) if isinstance(e, dict) else str(e) for e in outcome.examples]
        )
    if outcome.error:
        metadata["error"] = dg.MetadataValue.text(outcome.error)
    return metadata


def _specs(suite: Suite) -> list[dg.AssetCheckSpec]:
    key = dg.AssetKey(list(suite.asset_key))
    return [
        dg.AssetCheckSpec(
            name=check.name,
            asset=key,
            blocking=check.critical,
            description=f"[{'critical' if check.critical else 'warning'}] "
            f"{check.expectation.description or check.name}",
            metadata={"engine": "great_expectations"},
        )
        for check in suite.checks
    ]


def build_suite_checks(
    name: str, suites: list[Suite], reconciled: tuple[ExportTable, ...] = ()
) -> dg.AssetChecksDefinition:
    """One step that validates ``suites`` (and reconciles the ``reconciled`` raw tables' rows) and
    reports every expectation as its own check of its asset.

    One step per layer rather than one per asset: each Dagster step costs about 0.2 s of
    bookkeeping whatever it does; 46 check steps took 15 s of a day's run at 100k customers, of
    which Great Expectations itself about 5 s (docs/benchmarks.md). The step is subsettable: a run
    that materializes some raw tables checks only those. Names and severities come from
    ``suites``; thresholds are read again from the environment at every run. The suites share
    one GX context (``gx_context``: 0.03-0.06 s to build, paid once) and the report's index is
    rebuilt once, when the step ends (even when a suite raised).
    """

    @dg.multi_asset_check(
        specs=[spec for suite in suites for spec in _specs(suite)]
        + [reconciliation_spec(t) for t in reconciled],
        name=name,
        description="Great Expectations suites of "
        + ", ".join(dg.AssetKey(list(s.asset_key)).to_user_string() for s in suites)
        + (" and the row reconciliation of every raw table" if reconciled else ""),
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _checks(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        # The mapping file as it is now (the raw assets loaded with it): required columns may
        # have changed since the code location loaded.
        tables = effective_tables(get_settings().data_dir)
        current = {s.asset_key: s for s in build_suites(get_quality_settings(), tables)}
        every_row = context.run.tags.get(scope.ALL_ROWS_TAG) == "all"
        run_id = context.run.run_id
        quality_dir = get_settings().quality_dir
        with warehouse.get_connection() as con, gx_context(con) as gx:
            for spec in reconciled:
                if dg.AssetCheckKey(raw_asset_key(spec), RECONCILIATION_CHECK) in selected:
                    yield reconcile(con, spec)
            validated = False
            try:
                for suite in suites:
                    key = dg.AssetKey(list(suite.asset_key))
                    wanted = {c.name for c in suite.checks if dg.AssetCheckKey(key, c.name) in selected}
                    if wanted:
                        validated = True
                        now = current[suite.asset_key]
                        yield from _validate(
                            con, gx, now, key, wanted & {c.name for c in now.checks}, every_row, run_id
                        )
                        yield from _dropped(now, key, wanted)
            finally:
                if validated:
                    write_index(quality_dir)

    return _checks


def _dropped(suite: Suite, key: dg.AssetKey, wanted: set[str]) -> Iterator[dg.AssetCheckResult]:
    """Checks the code location defined that the mapping file no longer asks for (a column no
    longer required): passed, saying why, until the code location is reloaded."""
    for name in sorted(wanted - {c.name for c in suite.checks}):
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description="not part of the contract any more (sources.yml changed since the code "
            "location loaded; reload it to drop this check)",
        )


def _validate(
    con: duckdb.DuckDBPyConnection,
    gx: Any,
    suite: Suite,
    key: dg.AssetKey,
    wanted: set[str],
    every_row: bool,
    run_id: str,
) -> Iterator[dg.AssetCheckResult]:
    """Validate one suite; one result per wanted check, with where a failing raw value was delivered.

    A raw suite reads the rows not yet checked (``orchestration/quality/scope.py``); once none of
    its critical checks fails, those rows count as checked. ``gx``: the step's GX context.
    """
    raw = suite.asset_key[0] == "raw"
    suite, rows = scope.scoped(con, suite, every_row) if raw else (suite, "every row")
    outcomes, gx_result = validate(con, suite, gx)
    if raw and not any(o.check.critical and not o.success for o in outcomes):
        scope.record_checked(con, suite.asset_key[1], run_id)
    quality_dir = get_settings().quality_dir
    write_validation(quality_dir, suite, outcomes, gx_result)
    report = quality_dir / INDEX  # rebuilt when the step ends
    for outcome in outcomes:
        if outcome.check.name not in wanted:
            continue
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=outcome.check.name,
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR if outcome.check.critical else dg.AssetCheckSeverity.WARN,
            description=outcome.reason,
            metadata={**_metadata(outcome, str(report)), "rows_checked": dg.MetadataValue.text(rows)},
        )


def _tables_at_load() -> tuple[ExportTable, ...]:
    """The effective export contracts, for the check names and severities the UI shows. A bad
    mapping file must not stop the code location from loading: the raw assets fail on it, naming
    the key; the checks are then the contract's own."""
    try:
        return effective_tables(get_settings().data_dir)
    except MappingError:
        return ALL_TABLES


SUITES = build_suites(get_quality_settings(), _tables_at_load())
CHECKS = [
    build_suite_checks(
        f"checks_{layer}",
        [s for s in SUITES if s.asset_key[0] == layer],
        ALL_TABLES if layer == "raw" else (),
    )
    for layer in dict.fromkeys(s.asset_key[0] for s in SUITES)
]

quality_checks_job = dg.define_asset_job(
    "quality_checks",
    # Every GX suite plus the raw layer's row reconciliation; dbt tests run with `dbt test`.
    selection=dg.AssetSelection.checks(*CHECKS),
    description="Run every data quality check against the warehouse as it is, materializing nothing.",
    # Every raw row, not only those loaded since the last passed checks.
    tags={"cdp/warehouse": "write", scope.ALL_ROWS_TAG: "all"},
)

defs = dg.Definitions(asset_checks=CHECKS, jobs=[quality_checks_job])
