"""Raw layer assets: one Dagster asset per export table (group = its source system), the landing
inventory, and each raw table's blocking reconciliation check.

The assets are built from the export contract (``orchestration/exports``), so adding an export
table is adding an ``ExportTable`` there; nothing to add here.
"""

import dagster as dg

from orchestration.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from orchestration.defs.resources import WarehouseResource
from orchestration.exports import ALL_TABLES, effective_table, effective_tables
from orchestration.exports.spec import ExportTable
from orchestration.ingest.landing import record_unmatched
from orchestration.ingest.loader import load_table, removed_message
from orchestration.ingest.reconcile import reconciliation
from orchestration.ingest.summary import files_per_status, preview, row_count
from orchestration.privacy.suppression import SuppressionList
from orchestration.settings import get_settings
from orchestration.warehouse.raw import SQL_TYPES

PREVIEW_ROWS = 5


def raw_asset_key(spec: ExportTable) -> dg.AssetKey:
    return dg.AssetKey(["raw", spec.table])


def _column_schema(spec: ExportTable) -> dg.TableSchema:
    columns = [
        dg.TableColumn(
            c.name,
            SQL_TYPES[c.type],
            description=c.description or None,
            constraints=dg.TableColumnConstraints(nullable=not c.required),
            tags={"pii": ""} if c.pii else {},
        )
        for c in spec.columns
    ]
    columns += [
        dg.TableColumn("_source_file", "varchar", description="Landing file, relative to landing/."),
        dg.TableColumn("_source_line", "bigint", description="Line where the record starts."),
        dg.TableColumn("_file_sha256", "varchar", description="SHA-256 of the landing file."),
        dg.TableColumn("_loaded_at", "timestamptz", description="When the file was loaded."),
        dg.TableColumn("_extra_columns", "json", description="Columns not in the spec (drift)."),
    ]
    return dg.TableSchema(columns=columns)


def _preview(con, spec: ExportTable) -> str:
    """A few loaded rows as Markdown, with PII columns masked."""
    return markdown_table(*preview(con, spec, PREVIEW_ROWS))


def build_raw_asset(spec: ExportTable) -> dg.AssetsDefinition:
    fmt_kind = "csv" if spec.format.kind == "csv" else "json"

    @dg.asset(
        key=raw_asset_key(spec),
        group_name=spec.source,
        kinds={"duckdb", fmt_kind},
        owners=OWNERS,
        tags={"layer": "raw", "source": spec.source},
        pool=WAREHOUSE_POOL,
        description=(
            f"{spec.description}\n\nLoaded from `landing/{spec.source}/{spec.pattern}` "
            f"({spec.format.describe()}) into `raw.{spec.table}`, with lineage columns. Rows "
            "that cannot be read go to `raw.quarantine_rows`; unreadable files are recorded in "
            "`raw.load_log` with status `quarantined`."
        ),
        metadata={
            "dagster/table_name": f"raw.{spec.table}",
            "dagster/column_schema": _column_schema(spec),
            "landing_pattern": f"landing/{spec.source}/{spec.pattern}",
            "key": ", ".join(spec.key),
        },
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        settings = get_settings()
        mapped = effective_table(spec, settings.data_dir)  # the retailer's sources.yml, if any
        with warehouse.get_connection() as con:
            result = load_table(
                con,
                mapped,
                settings.landing_dir,
                settings.quarantine_dir,
                run_id=context.run.run_id,
                log=context.log.info,
                settle_seconds=settings.landing_settle_seconds,
                suppression=SuppressionList(settings.data_dir),
            )
            for f in result.files:
                for warning in [n for n in (f.note or "").split("; ") if n.startswith("WARNING")]:
                    context.log.warning(f"{f.file}: {warning}")
                if f.status == "quarantined":
                    context.log.error(f"File quarantined: {f.error}")
                elif f.status == "growing":
                    context.log.warning(f"{f.file}: still being written, left for the next run")
                elif f.rows_quarantined:
                    context.log.warning(
                        f"{f.file}: {f.rows_quarantined} of {f.rows_read} rows quarantined "
                        "(see raw.quarantine_rows)"
                    )
            for rel, rows, loaded_at in result.removed:
                context.log.warning(removed_message(mapped, rel, rows, loaded_at))
            total = row_count(con, spec)
            shown = _preview(con, spec)
        drift = sorted({c for f in result.files for c in f.drift_columns})
        quarantined_files = [f.error for f in result.files if f.status == "quarantined"]
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": total,
                "rows_read": result.rows_read,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
                "rows_suppressed": result.rows_suppressed,
                "files_loaded": result.count("loaded"),
                "files_skipped": result.count("skipped"),
                "files_duplicate": result.count("duplicate"),
                "files_still_growing": result.count("growing"),
                "files_quarantined": result.count("quarantined"),
                "quarantined_files": dg.MetadataValue.md(
                    "\n".join(f"- {e}" for e in quarantined_files) or "none"
                ),
                "schema_drift_columns": dg.MetadataValue.json(drift),
                "files_gone_from_landing": dg.MetadataValue.json([rel for rel, _, _ in result.removed]),
                "preview": dg.MetadataValue.md(shown),
            }
        )

    return _asset


RECONCILIATION_CHECK = "rows_reconcile"


def reconciliation_spec(spec: ExportTable) -> dg.AssetCheckSpec:
    """The blocking reconciliation check of one raw table (run by the raw layer's check step,
    ``orchestration/defs/quality``, beside its Great Expectations suite)."""
    return dg.AssetCheckSpec(
        name=RECONCILIATION_CHECK,
        asset=raw_asset_key(spec),
        blocking=True,
        description=(
            "For every loaded file, rows read (load log) = rows present in the raw table + rows "
            "present in quarantine + rows of erased persons (suppressed at load, or erased since). "
            "A failure means data was lost or duplicated."
        ),
    )


def reconcile(con, spec: ExportTable) -> dg.AssetCheckResult:
    """The check's result from ``orchestration.ingest.reconcile``: per file, rows read = rows in the
    raw table + rows in quarantine + the rows of erased persons the load log accounts for."""
    checked = reconciliation(con, spec)
    bad = checked.mismatches
    return dg.AssetCheckResult(
        asset_key=raw_asset_key(spec),
        check_name=RECONCILIATION_CHECK,
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{checked.files_checked} files, {checked.rows_read} rows read: all reconcile"
            if not bad
            else f"{len(bad)} files do not reconcile"
        ),
        metadata={
            "files_checked": checked.files_checked,
            "rows_read": checked.rows_read,
            "mismatches": dg.MetadataValue.md(
                "\n".join(
                    f"- {f}: read {r}, in table {t}, in quarantine {q}, of erased persons {e}"
                    for f, r, t, q, e in bad
                )
                or "none"
            ),
        },
    )


LANDING_INVENTORY_KEY = dg.AssetKey(["raw", "landing_inventory"])


@dg.asset(
    key=LANDING_INVENTORY_KEY,
    group_name="landing",
    kinds={"duckdb"},
    owners=OWNERS,
    tags={"layer": "raw"},
    pool=WAREHOUSE_POOL,
    description=(
        "Every file under `landing/` accounted for: files that no export reads (a workbook saved "
        "beside the CSV exports, a file in the wrong folder, a temporary file) get a "
        "`raw.load_log` row with status `unsupported` or `ignored` and the reason. It depends on "
        "no raw table, so a failed check of one never stops it; `cdp run` ends by listing every "
        "file the run logged and did not load (quarantined, duplicate, unsupported, ignored)."
    ),
)
def landing_inventory(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = get_settings()
    with warehouse.get_connection() as con:
        tables = effective_tables(settings.data_dir)
        new = record_unmatched(con, settings.landing_dir, tables, run_id=context.run.run_id)
        for f in new:
            context.log.warning(f"not loaded: {f.error}")
        totals = files_per_status(con)
    # Only what this asset recorded: it runs beside the raw assets, not after them; the list of
    # every file the run did not load is printed by `cdp run` at the end (files_not_loaded).
    rows = [(f.status, f.file, f.error) for f in new]
    return dg.MaterializeResult(
        metadata={
            "files_recorded": len(rows),
            "recorded": dg.MetadataValue.md(
                markdown_table(["status", "file", "reason"], rows[:200]) if rows else "none"
            ),
            **{f"files_{status}_total": n for status, n in sorted(totals.items())},
        }
    )


# Every export table of every source system, and the landing folder as a whole.
defs = dg.Definitions(assets=[*(build_raw_asset(t) for t in ALL_TABLES), landing_inventory])
