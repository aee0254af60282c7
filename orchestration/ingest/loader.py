"""Load landing files into ``raw.<table>`` with lineage, quarantine and reconciliation.

For every file of an export table, in name order:

0. A file modified in the last few seconds is watched until it stops changing (the landing
   sensor's rule); one still growing is left for the next run and listed as such.
1. Skip it if a file with the same SHA-256 was already loaded for this table (whatever its name;
   logged once as ``duplicate``), or if the same path, size and modification time were already
   logged (no re-hash needed).
2. One streaming pass hashes it, recognises what it is and proves its encoding (see ``files``);
   a file that is not text we can read is quarantined whole, naming what it is.
3. DuckDB splits the text into physical lines and groups them into records (a quoted field may span
   lines), which gives every record its line number and raw text.
4. DuckDB's own readers parse the records: ``read_csv`` (explicit delimiter, quote, all columns as
   text, rejected rows kept) or the JSON functions for NDJSON. Typed casts follow in SQL; a value
   that does not cast, or a missing required value, sends the row to ``raw.quarantine_rows``.
5. In one transaction: good rows go to ``raw.<table>``, bad rows to quarantine, and the file's
   counts to ``raw.load_log``, after checking rows read = rows loaded + rows quarantined.

A file that cannot be read at all (missing required columns, undecodable, not text, empty, or one
on which DuckDB's reader itself fails) is recorded with status ``quarantined`` and copied to
``quarantine/files/``; the other files still load. Files under ``landing/`` that match no export
are recorded too (``record_unmatched``), so every delivered file has a ``raw.load_log`` row.

A record delivered again (same key, in another file) is a new *version*: raw keeps every version
with its lineage, and everything downstream reads the latest delivered one (``latest_versions``).
"""

from __future__ import annotations

import csv
import re
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

import duckdb

from orchestration.exports.spec import Column, CsvFormat, ExportTable
from orchestration.ingest.files import HEAD_BYTES, FileFingerprint, fingerprint, kind_of, sha256_of

LINEAGE_COLUMNS = (
    ("_source_file", "varchar"),
    ("_source_line", "bigint"),
    ("_file_sha256", "varchar"),
    ("_loaded_at", "timestamptz"),
    ("_extra_columns", "json"),
)

# A number written with a decimal comma, thousands optionally grouped by space, dot or NBSP.
DECIMAL_COMMA = r"[+-]?(\d+|\d{1,3}([ .\x{00A0}\x{202F}]\d{3})+)(,\d+)?"

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
    "run_id, note"
)
# Names that are never an export: editors' and copiers' temporary files.
TEMPORARY = ("~$*", "*.tmp", "*.part", "*.crdownload", "*.partial", "*.swp")


class FileRejected(Exception):
    """The whole file cannot be loaded; the message says why, for people."""


@dataclass
class FileResult:
    """Outcome for one landing file."""

    file: str
    status: str  # loaded | quarantined | skipped | duplicate | growing | ignored | unsupported
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
            run_id varchar,
            note varchar
        )
        """
    )
    # Warehouses created before the column existed.
    con.execute("alter table raw.load_log add column if not exists note varchar")
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


def matches(spec: ExportTable, rel: str) -> bool:
    """Is ``rel`` (a path relative to landing/) a file of this export? A ``.gz`` suffix is allowed.

    File names are compared with the export's pattern, never used as one.
    """
    source, _, rest = rel.partition("/")
    name = rest.rsplit("/", 1)[-1].lower()
    if source != spec.source or not rest or any(fnmatch(name, t) for t in TEMPORARY) or name.startswith("."):
        return False
    return fnmatch(name.removesuffix(".gz"), spec.pattern.lower())


def landing_files(landing_dir: Path, spec: ExportTable) -> list[Path]:
    """Files of this export table under ``landing/<source>/``, in name order (subfolders too)."""
    root = landing_dir / spec.source
    if not root.exists():
        return []
    return sorted(
        p for p in root.rglob("*") if p.is_file() and matches(spec, p.relative_to(landing_dir).as_posix())
    )


def _log_file(con: duckdb.DuckDBPyConnection, **values: object) -> None:
    """One ``raw.load_log`` row; columns not given are null (lists empty)."""
    names = [c.strip() for c in LOAD_LOG_COLUMNS.split(",")]
    values.setdefault("drift_columns", [])
    values.setdefault("missing_optional_columns", [])
    values.setdefault("loaded_at", datetime.now(UTC))
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"not load_log columns: {sorted(unknown)}")
    con.execute(
        f"insert into raw.load_log ({LOAD_LOG_COLUMNS}) values ({', '.join('?' for _ in names)})",
        [values.get(n) for n in names],
    )


def _file_identity(spec: ExportTable, rel: str, fp: FileFingerprint, mtime: float) -> dict[str, object]:
    """The ``raw.load_log`` columns that say which delivered file a row is about."""
    return {
        "table_name": spec.table,
        "file_path": rel,
        "file_sha256": fp.sha256,
        "file_size": fp.size,
        "file_mtime": mtime,
    }


def _settled(paths: list[Path], settle_seconds: float) -> tuple[list[Path], list[Path]]:
    """Split files into (settled, still growing): the landing sensor's stability rule.

    A file modified less than ``settle_seconds`` ago is watched that long; one whose size or
    modification time moved meanwhile is still being written and is left for the next run.
    """
    if settle_seconds <= 0:
        return paths, []
    now = time.time()
    recent = {p: s for p in paths if now - (s := p.stat()).st_mtime < settle_seconds}
    if not recent:
        return paths, []
    newest = max(s.st_mtime for s in recent.values())
    time.sleep(max(0.0, settle_seconds - (time.time() - newest)))
    growing = []
    for p, before in recent.items():
        after = p.stat() if p.exists() else None
        if after is None or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            growing.append(p)
    return [p for p in paths if p not in growing and p.exists()], growing


def files_not_loaded(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, str, str]]:
    """(status, file, reason) of every landing file run ``run_id`` logged and did not load."""
    return con.execute(
        """
        select status, file_path, coalesce(error, note, '') from raw.load_log
        where run_id = ? and status not in ('loaded', 'skipped') order by file_path
        """,
        [run_id],
    ).fetchall()


def record_unmatched(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    tables: Iterable[ExportTable],
    run_id: str = "",
) -> list[FileResult]:
    """Log every landing file that no export reads, once per version of the file.

    ``unsupported``: its name matches an export but with another extension (a workbook saved
    beside the CSV exports); ``ignored``: it matches no export at all (wrong folder, temporary file).
    """
    tables = tuple(tables)
    if tables:
        ensure_raw_schema(con, tables[0])
    results = []
    for path in sorted(landing_dir.rglob("*")) if landing_dir.exists() else []:
        if not path.is_file():
            continue
        rel = path.relative_to(landing_dir).as_posix()
        if any(matches(t, rel) for t in tables):
            continue
        stat = path.stat()
        seen = con.execute(
            "select 1 from raw.load_log where file_path = ? and file_size = ? and file_mtime = ?",
            [rel, stat.st_size, stat.st_mtime],
        ).fetchall()
        if seen:
            continue
        with path.open("rb") as handle:
            kind = kind_of(handle.read(HEAD_BYTES), path.name)
        source, _, rest = rel.partition("/")
        stem = path.name.lower().split(".", 1)[0]
        near = [t for t in tables if t.source == source and fnmatch(stem, t.pattern.lower().split(".", 1)[0])]
        name = path.name.lower()
        if not rest:
            status, why = "ignored", "not in a source folder (landing/<source>/...)"
        elif not any(t.source == source for t in tables):
            status, why = "ignored", f"no source system called '{source}'"
        elif name.startswith(".") or any(fnmatch(name, t) for t in TEMPORARY):
            status, why = "ignored", "hidden or temporary file (renamed when complete?)"
        elif near:
            expected = ", ".join(f"{t.pattern} ({t.format.kind})" for t in near)
            status, why = "unsupported", f"{kind.name}: the export {expected} is read from text files only"
        else:
            patterns = ", ".join(t.pattern for t in tables if t.source == source)
            status, why = "ignored", f"matches no export of {source} ({patterns})"
        _log_file(
            con,
            table_name=near[0].table if near else "(no export)",
            file_path=rel,
            file_sha256=sha256_of(path),
            file_size=stat.st_size,
            file_mtime=stat.st_mtime,
            status=status,
            rows_read=0,
            rows_loaded=0,
            rows_quarantined=0,
            error=f"{rel}: {why}",
            run_id=run_id,
        )
        results.append(FileResult(rel, status, error=f"{rel}: {why}"))
    return results


def load_table(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    landing_dir: Path,
    quarantine_dir: Path,
    run_id: str = "",
    log: Callable[[str], None] = print,
    settle_seconds: float = 0.0,
) -> TableResult:
    """Load every new landing file of ``spec`` into ``raw.<table>``. Safe to call again."""
    ensure_raw_schema(con, spec)
    result = TableResult(table=spec.table)
    scratch = quarantine_dir.parent / "tmp" / "ingest"
    settled, growing = _settled(landing_files(landing_dir, spec), settle_seconds)
    for path in growing:
        rel = path.relative_to(landing_dir).as_posix()
        result.files.append(FileResult(rel, "growing", note="still being written: left for the next run"))
        log(f"not read {rel}: still being written (size or time changed within {settle_seconds:g} s)")
    for path in settled:
        rel = path.relative_to(landing_dir).as_posix()
        file_result = _load_file(con, spec, path, rel, quarantine_dir, scratch, run_id)
        result.files.append(file_result)
        if file_result.status == "quarantined":
            log(f"QUARANTINED {rel}: {file_result.error}")
        elif file_result.status == "duplicate":
            log(f"not loaded {rel}: {file_result.note}")
        elif file_result.status == "loaded":
            log(
                f"loaded {rel}: {file_result.rows_read} rows read = {file_result.rows_loaded} loaded"
                f" + {file_result.rows_quarantined} quarantined"
                + (f"; schema drift {file_result.drift_columns}" if file_result.drift_columns else "")
                + (f"; {file_result.note}" if file_result.note else "")
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
            note = f"same content as {earlier[0][0]}, already loaded"
            _log_file(
                con,
                **_file_identity(spec, rel, fp, stat.st_mtime),
                status="duplicate",
                rows_read=0,
                rows_loaded=0,
                rows_quarantined=0,
                run_id=run_id,
                note=note,
            )
            return FileResult(rel, "duplicate", note=note)
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
    note = "; ".join(fp.notes) or None
    if not fp.is_text:
        note = "; ".join([*fp.notes, "not text: its rows cannot be counted"])
    _log_file(
        con,
        **_file_identity(spec, rel, fp, mtime),
        status="quarantined",
        rows_read=rows,
        rows_loaded=0,
        rows_quarantined=rows,
        error=f"{rel}: {reason}",
        quarantine_copy=str(target),
        run_id=run_id,
        note=note,
    )
    return FileResult(
        rel, "quarantined", rows_read=rows, rows_quarantined=rows, error=f"{rel}: {reason}", note=note
    )


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
        select line_number,
               case when line_number = 1 then ltrim(rtrim(line, chr(13)), chr(65279))
                    else rtrim(line, chr(13)) end as line
        from physical
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
    notes = list(fp.notes)
    # A CSV file that stops without a line break may have been cut mid-record: its last record
    # cannot be told from a complete one (``12,5`` for ``12,50``), so it is quarantined.
    truncated = fmt.kind == "csv" and not fp.ends_with_newline and fp.size > 0
    try:
        _split_records(con, fp, quoted=fmt.kind == "csv")
        if fmt.kind == "csv":
            columns = _parse_csv(con, spec, fp)
            header_rows = 1
        else:
            columns = _parse_ndjson(con, spec)
            header_rows = 0
        present = {c for c in columns.values() if c}
        drift = [h for h, c in columns.items() if c is None]
        missing_required = [c for c in spec.required if c not in present]
        if missing_required:
            found = ", ".join(sorted(columns)) or "none"
            raise FileRejected(f"missing required column(s) {', '.join(missing_required)} (found: {found})")
        notes += [f"column '{h}' read as {c}" for h, c in columns.items() if c and h != c]
        _type_records(con, spec, columns, truncated)
    except (duckdb.OutOfMemoryException, duckdb.InterruptException, duckdb.FatalException):
        raise  # the machine's problem, not the file's
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0][:300]
        raise FileRejected(f"DuckDB's reader failed on it: {type(exc).__name__}: {message}") from exc
    missing_optional = [c.name for c in spec.columns if c.name not in present]
    if truncated:
        notes.append("no line break at the end: the last record was quarantined as possibly cut short")

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
        _log_file(
            con,
            **_file_identity(spec, rel, fp, mtime),
            status="loaded",
            rows_read=rows_read,
            rows_loaded=loaded,
            rows_quarantined=quarantined,
            drift_columns=drift,
            missing_optional_columns=missing_optional,
            loaded_at=now,
            run_id=run_id,
            note="; ".join(notes) or None,
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return FileResult(
        rel, "loaded", rows_read, loaded, quarantined, drift_columns=drift, note="; ".join(notes) or None
    )


def column_key(name: str) -> str:
    """A column name reduced to letters and digits, without accents: ``E-mail`` -> ``email``."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def match_columns(names: list[str], spec: ExportTable) -> dict[str, str | None]:
    """Map a file's column names onto the export's columns (``None``: not in the export).

    A file's column is an export column when its name is the column's name or one of its aliases
    (from the mapping file), case-insensitively; failing that, when it differs only by accents,
    spaces or punctuation (``e-mail``, ``Date of birth``) from exactly one column's name or alias
    that the file does not carry under its own name.
    """
    exact_names = {n.lower(): c.name for c in spec.columns for n in (c.name, *c.aliases)}
    exact = {n: exact_names[n.lower()] for n in names if n.lower() in exact_names}
    by_key: dict[str, set[str]] = {}
    for column in spec.columns:
        for name in (column.name, *column.aliases):
            by_key.setdefault(column_key(name), set()).add(column.name)
    mapping: dict[str, str | None] = {}
    taken = set(exact.values())
    for n in names:
        if n in exact:
            mapping[n] = exact[n]
            continue
        candidates = sorted(c for c in by_key.get(column_key(n), set()) if c not in taken)
        mapping[n] = candidates[0] if len(candidates) == 1 else None
        if mapping[n]:
            taken.add(candidates[0])
    return mapping


def _parse_csv(
    con: duckdb.DuckDBPyConnection, spec: ExportTable, fp: FileFingerprint
) -> dict[str, str | None]:
    """Parse with DuckDB's CSV reader into temp table ``_parsed(record_no, <columns>, _parse_error)``.

    Returns the file's columns mapped onto the export's (see ``match_columns``); ``_parsed`` names
    matched columns as the export does and keeps the others (drift) under their own names.
    """
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
    mapping = match_columns(names, spec)
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
    selected = ", ".join(f'c."{_sql_ident(n)}" as "{_sql_ident(mapping[n] or n)}"' for n in names)
    null_cols = ", ".join(f'null::varchar as "{_sql_ident(mapping[n] or n)}"' for n in names)
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
    return mapping


def _parse_ndjson(con: duckdb.DuckDBPyConnection, spec: ExportTable) -> dict[str, str | None]:
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
    mapping = match_columns(keys, spec)
    drift = [k for k in keys if mapping[k] is None]
    by_column = {c: k for k, c in mapping.items() if c}
    # One JSON parse per row: every wanted key is extracted in a single list-valued call.
    wanted = [by_column[c] for c in spec.column_names if c in by_column] + drift
    paths = ", ".join(f"'$.\"{_sql_str(k)}\"'" for k in wanted)
    values = {k: f"v[{i + 1}]" for i, k in enumerate(wanted)}
    extracted = ", ".join(
        f'{values[by_column[c]]} as "{c}"' if c in by_column else f'null::varchar as "{c}"'
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
    return mapping


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
                # Only the declared form is read ('1 234,50', '1.234,50'): '12.50', written with a
                # decimal point, would become 1250 once thousands separators are removed.
                cleaned = f"replace(regexp_replace({v}, '[ .\\x{{00A0}}\\x{{202F}}]', '', 'g'), ',', '.')"
                return (
                    f"case when regexp_full_match({v}, '{DECIMAL_COMMA}') "
                    f"then try_cast({cleaned} as decimal(18, 2)) end"
                )
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
    con: duckdb.DuckDBPyConnection, spec: ExportTable, columns: dict[str, str | None], truncated: bool
) -> None:
    """Build ``_typed``: typed columns, lineage, extra columns as JSON and one error text per row.

    ``truncated``: the file ends without a line break, so its last record is quarantined.
    """
    present = {c for c in columns.values() if c}
    drift = [h for h, c in columns.items() if c is None]
    typed, errors = [], ["p._parse_error"]
    if truncated:
        errors.append(
            "case when r.record_no = (select max(record_no) from _records) then 'possibly truncated: "
            "the file ends without a line break, so this last record may be cut short' end"
        )
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
            comma = column.type == "decimal" and spec.format.decimal_comma
            form = " with a decimal comma" if comma else ""
            errors.append(
                f"case when p._parse_error is null and {text} is not null and ({expr}) is null then "
                f"'{column.name}: cannot read ''' || left({text}, 40) || ''' as {column.type}{form}' end"
            )
        if column.values:
            accepted = ", ".join(f"'{_sql_str(v.upper())}'" for v in column.values)
            listed = _sql_str(", ".join(column.values))
            errors.append(
                f"case when p._parse_error is null and upper({text}) not in ({accepted}) then "
                f"'{column.name}: ''' || left({text}, 40) || ''' is not one of {listed}' end"
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
