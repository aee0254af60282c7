"""The raw layer's contract: tables, lineage columns, the load log and the latest-version rule.

``raw.<table>`` holds every delivered version of every record of an export, typed, with its
lineage; ``raw.load_log`` one row per delivered file; ``raw.quarantine_rows`` the lines that could
not be loaded. Ingestion writes them (``orchestration/ingest``); identity, privacy, quality and dbt
read them through this module, so none of them needs the loader.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from orchestration.exports.spec import ExportTable

LINEAGE_COLUMNS = (
    ("_source_file", "varchar"),
    ("_source_line", "bigint"),
    ("_file_sha256", "varchar"),
    ("_loaded_at", "timestamptz"),
    ("_extra_columns", "json"),
)

SQL_TYPES = {
    "varchar": "varchar",
    "integer": "bigint",
    "decimal": "decimal(18, 2)",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "boolean": "boolean",
}


LOAD_LOG_COLUMNS = (
    "table_name, file_path, file_sha256, file_size, file_mtime, status, rows_read, rows_loaded, "
    "rows_quarantined, drift_columns, missing_optional_columns, error, quarantine_copy, loaded_at, "
    "run_id, note, rows_suppressed"
)


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, spec: ExportTable) -> None:
    """Create the raw table and the shared bookkeeping tables if they do not exist yet."""
    con.execute("create schema if not exists raw")
    con.execute(
        """
        create table if not exists raw.load_log (
            table_name varchar not null,
            file_path varchar not null,
            file_sha256 varchar not null,
            file_size bigint,
            file_mtime double,
            status varchar not null,
            rows_read bigint,
            rows_loaded bigint,
            rows_quarantined bigint,
            drift_columns varchar[],
            missing_optional_columns varchar[],
            error varchar,
            quarantine_copy varchar,
            loaded_at timestamptz not null,
            run_id varchar,
            note varchar
        )
        """
    )
    # Warehouses created before the columns existed.
    con.execute("alter table raw.load_log add column if not exists note varchar")
    # A file taken out again with `cdp unload` (status 'retired'): who and when.
    con.execute("alter table raw.load_log add column if not exists retired_at timestamptz")
    con.execute("alter table raw.load_log add column if not exists retired_by varchar")
    # Rows of erased persons: not loaded (suppressed at load), or loaded then erased, from the raw
    # table or from quarantine (orchestration/privacy). They keep every file's counts reconciled.
    for column in ("rows_suppressed", "rows_erased", "quarantine_rows_erased"):
        con.execute(f"alter table raw.load_log add column if not exists {column} bigint default 0")
    con.execute(
        """
        create table if not exists raw.quarantine_rows (
            table_name varchar not null,
            file_path varchar not null,
            file_sha256 varchar not null,
            line_number bigint,
            raw_text varchar,
            reason varchar not null,
            quarantined_at timestamptz not null,
            run_id varchar
        )
        """
    )
    columns = [f'"{c.name}" {SQL_TYPES[c.type]}' for c in spec.columns]
    columns += [f"{name} {sql_type}" for name, sql_type in LINEAGE_COLUMNS]
    con.execute(f"create table if not exists raw.{spec.table} ({', '.join(columns)})")
    # The delivered text of ``keep_as_delivered`` columns, after the lineage columns: added the
    # same way to new warehouses and to those created before these columns existed.
    for column in spec.delivered_columns:
        con.execute(
            f'alter table raw.{spec.table} add column if not exists "{column.delivered_column}" varchar'
        )
    con.execute("create schema if not exists raw_current")
    con.execute(f"create or replace view raw_current.{spec.table} as {latest_versions_sql(spec)}")


def latest_versions_sql(spec: ExportTable) -> str:
    """The latest delivered version of every record of ``raw.<table>`` (see ``raw_current``).

    Raw keeps every version of a record with its lineage (a contact corrected and exported again,
    a ticket re-sent); what is read downstream is the version delivered last: the latest load,
    then the later file and line, after the source's own modification time where it has one. The
    dbt staging models apply the same rule with the ``latest_delivered`` macro.
    """
    key = ", ".join(f'"{k}"' for k in spec.key)
    first = f"{spec.version_order}, " if spec.version_order else ""
    return (
        f"select * from raw.{spec.table} qualify row_number() over (partition by {key} "
        f"order by {first}_loaded_at desc, _source_file desc, _source_line desc) = 1"
    )


def log_file(con: duckdb.DuckDBPyConnection, **values: object) -> None:
    """One ``raw.load_log`` row; columns not given are null (lists empty)."""
    names = [c.strip() for c in LOAD_LOG_COLUMNS.split(",")]
    values.setdefault("drift_columns", [])
    values.setdefault("missing_optional_columns", [])
    values.setdefault("loaded_at", datetime.now(UTC))
    values.setdefault("rows_suppressed", 0)
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"not load_log columns: {sorted(unknown)}")
    con.execute(
        f"insert into raw.load_log ({LOAD_LOG_COLUMNS}) values ({', '.join('?' for _ in names)})",
        [values.get(n) for n in names],
    )


def files_not_loaded(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, str, str]]:
    """(status, file, reason) of every landing file run ``run_id`` logged and did not load."""
    return con.execute(
        """
        select status, file_path, coalesce(error, note, '') from raw.load_log
        where run_id = ? and status not in ('loaded', 'skipped') order by file_path
        """,
        [run_id],
    ).fetchall()
