"""Load landing files into ``raw.<table>`` with lineage, quarantine and reconciliation.

For every file of an export table, in name order:

1. Skip it if a file with the same SHA-256 was already loaded for this table (whatever its name),
   or if the same path, size and modification time were already loaded (no re-hash needed).
2. One streaming pass hashes it and proves its encoding (see ``files``); an undecodable file is
   quarantined whole.
3. DuckDB splits the text into physical lines and groups them into records (a quoted field may span
   lines), which gives every record its line number and raw text.
4. DuckDB's own readers parse the records: ``read_csv`` (explicit delimiter, quote, all columns as
   text, rejected rows kept) or the JSON functions for NDJSON. Typed casts follow in SQL; a value
   that does not cast, or a missing required value, sends the row to ``raw.quarantine_rows``.
5. In one transaction: good rows go to ``raw.<table>``, bad rows to quarantine, and the file's
   counts to ``raw.load_log``, after checking rows read = rows loaded + rows quarantined.

A file that cannot be read at all (missing required columns, truncated, undecodable, empty) is
recorded with status ``quarantined`` and copied to ``quarantine/files/``; the other files still load.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

import duckdb

from orchestration.exports.spec import Column, CsvFormat, ExportTable
from orchestration.ingest.files import FileFingerprint, fingerprint

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


class FileRejected(Exception):
    """The whole file cannot be loaded; the message says why, for people."""


@dataclass
class FileResult:
    """Outcome for one landing file."""

    file: str
    status: str  # loaded | quarantined | skipped
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    drift_columns: list[str] = field(default_factory=list)
    error: str | None = None
    note: str | None = None


@dataclass
class TableResult:
    """Outcome for one export table over all its landing files."""

    table: str
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)


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
            run_id varchar
        )
        """
    )
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


def landing_files(landing_dir: Path, spec: ExportTable) -> list[Path]:
    """Files of this export table under ``landing/<source>/``, in name order (subfolders too)."""
    root = landing_dir / spec.source
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and fnmatch(p.name.lower(), spec.pattern.lower()))


def load_table(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    landing_dir: Path,
    quarantine_dir: Path,
    run_id: str = "",
    log: Callable[[str], None] = print,
) -> TableResult:
    """Load every new landing file of ``spec`` into ``raw.<table>``. Safe to call again."""
    ensure_raw_schema(con, spec)
    result = TableResult(table=spec.table)
    scratch = quarantine_dir.parent / "tmp" / "ingest"
    for path in landing_files(landing_dir, spec):
        rel = path.relative_to(landing_dir).as_posix()
        file_result = _load_file(con, spec, path, rel, quarantine_dir, scratch, run_id)
        result.files.append(file_result)
        if file_result.status == "quarantined":
            log(f"QUARANTINED {rel}: {file_result.error}")
        elif file_result.status == "loaded":
            log(
                f"loaded {rel}: {file_result.rows_read} rows read = {file_result.rows_loaded} loaded"
                f" + {file_result.rows_quarantined} quarantined"
                + (f"; schema drift {file_result.drift_columns}" if file_result.drift_columns else "")
            )
    return result


def _load_file(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    path: Path,
    rel: str,
    quarantine_dir: Path,
    scratch: Path,
    run_id: str,
) -> FileResult:
    stat = path.stat()
    seen = con.execute(
        "select 1 from raw.load_log where table_name = ? and file_path = ? and file_size = ?"
        " and file_mtime = ?",
        [spec.table, rel, stat.st_size, stat.st_mtime],
    ).fetchall()
    if seen:
        return FileResult(rel, "skipped", note="already loaded")
    fp = fingerprint(path, spec.format.encoding, scratch)
    try:
        earlier = con.execute(
            "select file_path from raw.load_log where table_name = ? and file_sha256 = ? limit 1",
            [spec.table, fp.sha256],
        ).fetchall()
        if earlier:
            return FileResult(rel, "skipped", note=f"same content as {earlier[0][0]}, already loaded")
        try:
            if fp.decode_error:
                raise FileRejected(fp.decode_error)
            if fp.size == 0 and spec.format.kind == "csv":
                raise FileRejected("empty file: no header row (a failed or truncated export?)")
            return _load_records(con, spec, fp, rel, stat.st_mtime, run_id)
        except FileRejected as exc:
            return _quarantine_file(con, spec, path, rel, fp, stat.st_mtime, str(exc), quarantine_dir, run_id)
    finally:
        if fp.readable_path != path:
            fp.readable_path.unlink(missing_ok=True)


def _quarantine_file(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    path: Path,
    rel: str,
    fp: FileFingerprint,
    mtime: float,
    reason: str,
    quarantine_dir: Path,
    run_id: str,
) -> FileResult:
    """Keep a copy of the unreadable file and record it; every line counts as quarantined."""
    target = quarantine_dir / "files" / spec.source / f"{fp.sha256[:12]}-{path.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, target)
    rows = max(fp.lines - (1 if spec.format.kind == "csv" else 0), 0)
    con.execute(
        """
        insert into raw.load_log values (?, ?, ?, ?, ?, 'quarantined', ?, 0, ?, [], [], ?, ?, ?, ?)
        """,
        [
            spec.table,
            rel,
            fp.sha256,
            fp.size,
            mtime,
            rows,
            rows,
            f"{rel}: {reason}",
            str(target),
            datetime.now(UTC),
            run_id,
        ],
    )
    return FileResult(rel, "quarantined", rows_read=rows, rows_quarantined=rows, error=f"{rel}: {reason}")


def _split_records(con: duckdb.DuckDBPyConnection, fp: FileFingerprint, quoted: bool) -> None:
    """Build temp table ``_records(record_no, record_group, line_number, raw_text)``.

    Physical lines come from splitting the text on LF. With CSV, a line continues the previous
    record while an odd number of quote characters has been seen (RFC 4180 quoting). Blank lines
    between records are not records (DuckDB's reader skips them too) but keep their own
    ``record_group``, which then equals the ``line`` DuckDB reports for a rejected row (DuckDB counts
    a blank line or a whole multi-line record as one "line"). The header is record 0.
    When no line has an odd number of quotes (most files), every line is a record and the
    grouping, which needs two window passes, is skipped.
    """
    con.execute(
        """
        create or replace temp table _lines as
        with parts as (select string_split(content, chr(10)) as lines from read_text(?)),
        physical as (
            select unnest(range(1, len(lines) + 1)) as line_number, unnest(lines) as line from parts
        )
        select line_number, rtrim(line, chr(13)) as line from physical
        """,
        [str(fp.readable_path)],
    )
    odd_quotes = "(length(line) - length(replace(line, '\"', ''))) % 2 = 1"
    multiline = (
        quoted and con.execute(f"select coalesce(bool_or({odd_quotes}), false) from _lines").fetchall()[0][0]
    )
    if not multiline:
        header = "or line_number = 1" if quoted else ""
        con.execute(
            f"""
            create or replace temp table _records as
            select row_number() over (order by line_number) - 1 as record_no,
                   line_number as record_group, line_number, line as raw_text
            from _lines
            where trim(line) <> '' {header}
            """
        )
        return
    con.execute(
        f"""
        create or replace temp table _records as
        with scanned as (
            select line_number, line,
                   coalesce(sum(case when {odd_quotes} then 1 else 0 end) over w_before, 0) as odd_before
            from _lines
            window w_before as (order by line_number rows between unbounded preceding and 1 preceding)
        ),
        grouped as (
            select *, sum(case when odd_before % 2 = 0 then 1 else 0 end)
                over (order by line_number) as record_group
            from scanned
        ),
        records as (
            select record_group, min(line_number) as line_number,
                   string_agg(line, chr(10) order by line_number) as raw_text
            from grouped
            group by record_group
        )
        select row_number() over (order by line_number) - 1 as record_no, record_group, line_number,
               raw_text
        from records
        where trim(raw_text) <> '' or record_group = 1
        """
    )


def _load_records(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    fp: FileFingerprint,
    rel: str,
    mtime: float,
    run_id: str,
) -> FileResult:
    fmt = spec.format
    _split_records(con, fp, quoted=fmt.kind == "csv")
    if fmt.kind == "csv":
        present, drift = _parse_csv(con, spec, fp)
        header_rows = 1
    else:
        present, drift = _parse_ndjson(con, spec)
        header_rows = 0
    missing_required = [c for c in spec.required if c not in present]
    if missing_required:
        found = ", ".join(sorted(present | set(drift))) or "none"
        raise FileRejected(f"missing required column(s) {', '.join(missing_required)} (found: {found})")
    missing_optional = [c.name for c in spec.columns if c.name not in present]
    _type_records(con, spec, present, drift)
    _truncation_guard(con, fp)

    rows_read = con.execute("select count(*) from _records").fetchall()[0][0] - header_rows
    now = datetime.now(UTC)
    con.execute("begin transaction")
    try:
        select_cols = ", ".join(f'"{c.name}"' for c in spec.columns)
        con.execute(
            f"""
            insert into raw.{spec.table}
            select {select_cols}, ? as _source_file, line_number, ? as _file_sha256,
                   ? as _loaded_at, _extra_columns
            from _typed where _error is null
            order by line_number
            """,
            [rel, fp.sha256, now],
        )
        loaded = con.execute("select count(*) from _typed where _error is null").fetchall()[0][0]
        con.execute(
            """
            insert into raw.quarantine_rows
            select ?, ?, ?, line_number, raw_text, _error, ?, ? from _typed where _error is not null
            """,
            [spec.table, rel, fp.sha256, now, run_id],
        )
        quarantined = con.execute("select count(*) from _typed where _error is not null").fetchall()[0][0]
        if rows_read != loaded + quarantined:
            raise RuntimeError(
                f"{rel}: counts do not reconcile: {rows_read} rows read, {loaded} loaded, "
                f"{quarantined} quarantined"
            )
        con.execute(
            "insert into raw.load_log values (?, ?, ?, ?, ?, 'loaded', ?, ?, ?, ?, ?, null, null, ?, ?)",
            [
                spec.table,
                rel,
                fp.sha256,
                fp.size,
                mtime,
                rows_read,
                loaded,
                quarantined,
                drift,
                missing_optional,
                now,
                run_id,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return FileResult(rel, "loaded", rows_read, loaded, quarantined, drift_columns=drift)


def _truncation_guard(con: duckdb.DuckDBPyConnection, fp: FileFingerprint) -> None:
    """A file whose last record is unreadable and that lacks a final newline was cut short."""
    if fp.ends_with_newline or fp.size == 0:
        return
    last_failed = con.execute(
        "select _error is not null from _typed order by line_number desc limit 1"
    ).fetchall()
    if last_failed and last_failed[0][0]:
        line = con.execute("select max(line_number) from _records").fetchall()[0][0]
        raise FileRejected(
            f"truncated: the last record (line {line}) is incomplete and the file does not end with a newline"
        )


def _parse_csv(
    con: duckdb.DuckDBPyConnection, spec: ExportTable, fp: FileFingerprint
) -> tuple[set[str], list[str]]:
    """Parse with DuckDB's CSV reader into temp table ``_parsed(record_no, <columns>, _parse_error)``."""
    fmt = spec.format
    assert isinstance(fmt, CsvFormat)
    header_text = con.execute("select raw_text from _records where record_no = 0").fetchall()
    if not header_text:
        raise FileRejected("empty file: no header row")
    header = next(csv.reader([header_text[0][0].lstrip("\ufeff")], delimiter=fmt.delimiter))
    names = [h.strip().lower() for h in header]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or "" in names:
        raise FileRejected(f"header has duplicate or empty column names: {duplicates or ['<empty>']}")
    known = set(spec.column_names)
    present = {n for n in names if n in known}
    drift = [n for n in names if n not in known]
    columns = "{" + ", ".join(f"'{_sql_str(n)}': 'VARCHAR'" for n in names) + "}"
    con.execute("drop table if exists _rejects; drop table if exists _reject_scans")
    con.execute(
        f"""
        create or replace temp table _csv as
        select * from read_csv(
            ?, delim = '{_sql_str(fmt.delimiter)}', quote = '"', escape = '"', header = true,
            columns = {columns}, auto_detect = false, strict_mode = true,
            store_rejects = true, rejects_table = '_rejects', rejects_scan = '_reject_scans',
            parallel = false
        )
        """,
        [str(fp.readable_path)],
    )
    # Align parsed rows with records: rejected records are identified by DuckDB's record counter,
    # the remaining records map one-to-one, in file order, to the parsed rows (insertion order).
    con.execute(
        """
        create or replace temp table _rejected as
        select r.record_no, string_agg(distinct e.error_type || ': ' || e.error_message, ' | ')
            as parse_error
        from _rejects e join _records r on r.record_group = e.line
        group by r.record_no
        """
    )
    unmatched = con.execute(
        "select count(distinct line) from _rejects where line not in "
        "(select record_group from _records where record_no > 0)"
    ).fetchall()[0][0]
    good_records = con.execute(
        "select count(*) from _records where record_no > 0 and record_no not in "
        "(select record_no from _rejected)"
    ).fetchall()[0][0]
    parsed_rows = con.execute("select count(*) from _csv").fetchall()[0][0]
    if unmatched or good_records != parsed_rows:
        raise FileRejected(
            f"could not align records: {parsed_rows} rows parsed, {good_records} expected "
            "(stray quote characters in unquoted fields?)"
        )
    first = _sql_ident(names[0])
    misaligned = con.execute(
        f"""
        with good as (
            select record_no, raw_text, row_number() over (order by record_no) - 1 as ordinal
            from _records
            where record_no > 0 and record_no not in (select record_no from _rejected)
        )
        select count(*) from good g join (select rowid as ordinal, * from _csv) c using (ordinal)
        where not (g.raw_text like '"%' or starts_with(g.raw_text, coalesce(c."{first}", '')))
        """
    ).fetchall()[0][0]
    if misaligned:
        raise FileRejected(f"could not align records: {misaligned} rows do not match their line")
    selected = ", ".join(f'c."{_sql_ident(n)}"' for n in names)
    null_cols = ", ".join(f'null::varchar as "{_sql_ident(n)}"' for n in names)
    con.execute(
        f"""
        create or replace temp table _parsed as
        with good as (
            select record_no, row_number() over (order by record_no) - 1 as ordinal
            from _records
            where record_no > 0 and record_no not in (select record_no from _rejected)
        ),
        csv_rows as (select rowid as ordinal, * from _csv)
        select g.record_no, {selected}, null::varchar as _parse_error
        from good g join csv_rows c using (ordinal)
        union all
        select record_no, {null_cols}, parse_error from _rejected
        """
    )
    return present, drift


def _parse_ndjson(con: duckdb.DuckDBPyConnection, spec: ExportTable) -> tuple[set[str], list[str]]:
    """Parse each record (one line) with DuckDB's JSON functions into temp table ``_parsed``."""
    con.execute(
        """
        create or replace temp table _json as
        select record_no,
               case when json_valid(raw_text) and json_type(raw_text::json) = 'OBJECT'
                    then raw_text::json end as doc
        from _records
        """
    )
    keys = [
        r[0]
        for r in con.execute(
            "select distinct unnest(json_keys(doc)) from _json where doc is not null order by 1"
        ).fetchall()
    ]
    known = set(spec.column_names)
    present = {k.lower() for k in keys if k.lower() in known}
    drift = [k for k in keys if k.lower() not in known]
    by_lower = {k.lower(): k for k in keys}
    # One JSON parse per row: every wanted key is extracted in a single list-valued call.
    wanted = [by_lower[c] for c in spec.column_names if c in by_lower] + drift
    paths = ", ".join(f"'$.\"{_sql_str(k)}\"'" for k in wanted)
    values = {k: f"v[{i + 1}]" for i, k in enumerate(wanted)}
    extracted = ", ".join(
        f'{values[by_lower[c]]} as "{c}"' if c in by_lower else f'null::varchar as "{c}"'
        for c in spec.column_names
    )
    drift_cols = "".join(f', {values[k]} as "{_sql_ident(k)}"' for k in drift)
    source = f"json_extract_string(doc, [{paths}])" if wanted else "[]::varchar[]"
    con.execute(
        f"""
        create or replace temp table _parsed as
        select record_no, {extracted}{drift_cols},
               case when doc is null then 'not a JSON object' end as _parse_error
        from (select record_no, doc, {source} as v from _json)
        """
    )
    return present, drift


def _cast_expr(column: Column, spec: ExportTable) -> str:
    """SQL turning the text value of ``column`` into its declared type (NULL when it does not cast)."""
    fmt = spec.format
    v = f"nullif(trim(p.\"{column.name}\"), '')"
    match column.type:
        case "varchar":
            return f'p."{column.name}"'
        case "integer":
            return f"try_cast({v} as bigint)"
        case "decimal":
            if fmt.decimal_comma:
                cleaned = f"replace(regexp_replace({v}, '[ .\\x{{00A0}}\\x{{202F}}]', '', 'g'), ',', '.')"
                return f"try_cast({cleaned} as decimal(18, 2))"
            return f"try_cast({v} as decimal(18, 2))"
        case "date":
            return f"try_strptime({v}, '{fmt.date_format}')::date"
        case "timestamp":
            if fmt.timestamp_format:
                return f"try_strptime({v}, '{fmt.timestamp_format}')"
            return f"try_cast({v} as timestamp)"
        case "timestamptz":
            if fmt.timestamp_format:
                return f"try_strptime({v}, '{fmt.timestamp_format}')::timestamptz"
            return f"try_cast({v} as timestamptz)"
        case "boolean":
            return (
                f"case when lower({v}) in ('true', 't', '1', 'yes', 'y', 'oui', 'o') then true "
                f"when lower({v}) in ('false', 'f', '0', 'no', 'n', 'non') then false end"
            )
    raise ValueError(f"unknown column type {column.type}")


def _type_records(
    con: duckdb.DuckDBPyConnection, spec: ExportTable, present: set[str], drift: list[str]
) -> None:
    """Build ``_typed``: typed columns, lineage, extra columns as JSON and one error text per row."""
    typed, errors = [], ["p._parse_error"]
    for column in spec.columns:
        if column.name not in present:
            typed.append(f'null::{SQL_TYPES[column.type]} as "{column.name}"')
            if column.required:
                errors.append(f"'{column.name}: required value missing'")
            continue
        expr = _cast_expr(column, spec)
        typed.append(f'{expr} as "{column.name}"')
        text = f"nullif(trim(p.\"{column.name}\"), '')"
        if column.type != "varchar":
            errors.append(
                f"case when p._parse_error is null and {text} is not null and ({expr}) is null then "
                f"'{column.name}: cannot read ''' || left({text}, 40) || ''' as {column.type}' end"
            )
        if column.required:
            errors.append(
                f"case when p._parse_error is null and {text} is null "
                f"then '{column.name}: required value missing' end"
            )
    extra = (
        "to_json(struct_pack(" + ", ".join(f'"{_sql_ident(d)}" := p."{_sql_ident(d)}"' for d in drift) + "))"
        if drift
        else "null::json"
    )
    con.execute(
        f"""
        create or replace temp table _typed as
        select r.line_number, r.raw_text, {", ".join(typed)}, {extra} as _extra_columns,
               nullif(concat_ws('; ', {", ".join(errors)}), '') as _error
        from _parsed p join _records r using (record_no)
        """
    )


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def _sql_ident(value: str) -> str:
    return value.replace('"', '""')
