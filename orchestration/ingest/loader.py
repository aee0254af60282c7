"""Load landing files into ``raw.<table>`` with lineage, quarantine and reconciliation.

For every file of an export table, in name order:

0. Which files are read is decided in ``landing``: a file modified in the last few seconds is
   watched until it stops changing (the landing sensor's rule); one still growing is left for the
   next run and listed as such.
1. Skip it if a file with the same SHA-256 was already loaded for this table (whatever its name;
   logged once as ``duplicate``), or if the same path, size and modification time were already
   logged (no re-hash needed).
2. One streaming pass hashes it, recognises what it is and proves its encoding (see ``files``);
   a file that is not text we can read is quarantined whole, naming what it is.
3. In one transaction, DuckDB reads (``formats``), types (``casting``) and writes it, giving every
   record its line number:

   - CSV, one read: ``read_csv`` (explicit delimiter, quote, all columns as text, rejected rows
     kept) numbers its rows in file order, typed casts follow in the same statement and good rows
     go straight to ``raw.<table>``. Row i is line i + 1 when every record is one line, which the
     counts prove (rows = physical lines after the header, nothing rejected); the lines are read
     again only when some rows did not type, to quote them. Otherwise (multi-line quoted values, blank
     lines, rejected rows) the writes are rolled back and the exact path splits the text into
     lines, groups them into records by quote parity and aligns them with the reader's rows.
   - NDJSON: the lines are read once (DuckDB's CSV reader as a line splitter); one pass lists the
     keys and counts the records, one parses, types and writes each line.

   A value that does not cast, or a missing required value, sends the row with its line and raw
   text to ``raw.quarantine_rows``; the file's counts go to ``raw.load_log`` after checking rows
   read = rows loaded + rows quarantined, rows read being counted apart from the rows written.

A file that cannot be read at all (missing required columns, undecodable, not text, empty, or one
on which DuckDB's reader itself fails) is recorded with status ``quarantined`` and copied to
``quarantine/files/``; the other files still load. Files under ``landing/`` that match no export
are recorded too (``landing.record_unmatched``), so every delivered file has a ``raw.load_log`` row.

A record delivered again (same key, in another file) is a new *version*: raw keeps every version
with its lineage, and everything downstream reads the latest delivered one
(``warehouse.raw.latest_versions_sql``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import duckdb

from orchestration.exports.spec import ExportTable
from orchestration.ingest.apostrophes import strip_protection
from orchestration.ingest.casting import RowRules
from orchestration.ingest.files import FileFingerprint, fingerprint
from orchestration.ingest.formats import FileRejected, Write, may_be_truncated, write_csv, write_ndjson
from orchestration.ingest.landing import already_logged, landing_files, settle
from orchestration.ingest.results import FileResult, TableResult
from orchestration.lib.sql import literal
from orchestration.settings import get_settings
from orchestration.warehouse.raw import ensure_raw_schema, log_file


class Suppression(Protocol):
    """Keeps the rows of erased persons out of a load (the privacy suppression list)."""

    def prepare(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Ready ``con`` for suppressing; False when nothing is suppressed at all."""
        ...

    def suppress_loaded(
        self, con: duckdb.DuckDBPyConnection, table: str, file_sha256: str, loaded_at: datetime
    ) -> tuple[int, int, dict[str, int]]:
        """Remove listed rows from one file's load, inside its transaction: (rows, quarantined
        lines, rows of earlier loads erased because they belong to a record this load listed)."""
        ...


def _file_identity(spec: ExportTable, rel: str, fp: FileFingerprint, mtime: float) -> dict[str, object]:
    """The ``raw.load_log`` columns that say which delivered file a row is about."""
    return {
        "table_name": spec.table,
        "file_path": rel,
        "file_sha256": fp.sha256,
        "file_size": fp.size,
        "file_mtime": mtime,
    }


def load_table(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    landing_dir: Path,
    quarantine_dir: Path,
    run_id: str = "",
    log: Callable[[str], None] = print,
    settle_seconds: float = 0.0,
    suppression: Suppression | None = None,
    files: list[Path] | None = None,
) -> TableResult:
    """Load every new landing file of ``spec`` into ``raw.<table>``. Safe to call again.

    ``files``: these files only (under ``landing_dir``), whatever their names: ``cdp inspect
    --table`` tries a file under the name it has, which need not match the export's patterns.

    ``suppression``: the privacy suppression list that applies (rows of erased persons are not
    loaded, and counted; ``orchestration.privacy.suppression.SuppressionList``); None for a scratch
    load (inspect, benchmarks). Given by the caller, so that ingestion does not depend on privacy."""
    ensure_raw_schema(con, spec)
    suppressing = suppression if suppression is not None and suppression.prepare(con) else None
    result = TableResult(table=spec.table)
    scratch = quarantine_dir.parent / "tmp" / "ingest"
    listed = landing_files(landing_dir, spec) if files is None else files
    if files is None:
        result.removed = removed_from_landing(con, spec, landing_dir, listed)  # the raw asset warns
    settled, growing = settle(listed, settle_seconds)
    for path in growing:
        rel = path.relative_to(landing_dir).as_posix()
        result.files.append(FileResult(rel, "growing", note="still being written: left for the next run"))
        log(f"not read {rel}: still being written (size or time changed within {settle_seconds:g} s)")
    entries = []
    for path in settled:
        rel, stat = path.relative_to(landing_dir).as_posix(), path.stat()
        entries.append((path, rel, stat, already_logged(con, spec, rel, stat)))
    fingerprints = _prefetched([p for p, _, _, seen in entries if not seen], spec.format.encoding, scratch)
    try:
        for path, rel, stat, seen in entries:
            if seen:
                note = "retired (cdp unload): not loaded again" if seen == "retired" else "already loaded"
                result.files.append(FileResult(rel, "skipped", note=note))
                continue
            file_result = _load_file(
                con, spec, path, rel, stat, next(fingerprints), quarantine_dir, run_id, suppressing
            )
            result.files.append(file_result)
            _log_result(log, file_result)
    finally:
        fingerprints.close()
    return result


def removed_from_landing(
    con: duckdb.DuckDBPyConnection, spec: ExportTable, landing_dir: Path, present: list[Path]
) -> list[tuple[str, int, datetime]]:
    """(file, rows, loaded at) of every file of ``spec`` loaded and no longer under landing/.

    Removing a file does not unload it: its rows stay in raw (a delivery folder is often cleaned
    after a load). The run says so each time, and how to retire them (``cdp unload``)."""
    here = {p.relative_to(landing_dir).as_posix() for p in present}
    loaded = con.execute(
        "select file_path, sum(rows_loaded), max(loaded_at) from raw.load_log"
        " where table_name = ? and status = 'loaded' group by file_path order by file_path",
        [spec.table],
    ).fetchall()
    return [(rel, int(rows or 0), at) for rel, rows, at in loaded if rel not in here]


def removed_message(spec: ExportTable, rel: str, rows: int, loaded_at: datetime) -> str:
    """The run log's line for a loaded file no longer under landing/."""
    return (
        f"{rel} was loaded ({rows} rows, {loaded_at:%Y-%m-%d %H:%M}) and is no longer under landing/: "
        f"its rows stay in raw.{spec.table}; to take them out: cdp unload {rel}"
    )


def _log_result(log: Callable[[str], None], file_result: FileResult) -> None:
    """One line of the run output per file read."""
    rel = file_result.file
    if file_result.status == "quarantined":
        log(f"QUARANTINED {rel}: {file_result.error}")
    elif file_result.status == "duplicate":
        log(f"not loaded {rel}: {file_result.note}")
    elif file_result.status == "loaded":
        log(
            f"loaded {rel}: {file_result.rows_read} rows read = {file_result.rows_loaded} loaded"
            f" + {file_result.rows_quarantined} quarantined"
            + (
                f" + {file_result.rows_suppressed} suppressed (erased persons)"
                if file_result.rows_suppressed
                else ""
            )
            + (f"; schema drift {file_result.drift_columns}" if file_result.drift_columns else "")
            + (f"; {file_result.note}" if file_result.note else "")
        )


def _prefetched(paths: list[Path], encoding: str, scratch: Path) -> Generator[FileFingerprint]:
    """``fingerprint`` of each path, in order, the next one computed in a thread while the caller
    loads the current one: the hashing and decoding in Python overlap DuckDB's work (which
    releases the GIL). One file ahead at most, so one scratch copy waits at a time."""
    if not paths:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdp-fingerprint") as pool:
        ahead: tuple[Path, Future[FileFingerprint]] | None = (
            paths[0],
            pool.submit(fingerprint, paths[0], encoding, scratch),
        )
        try:
            for following in [*paths[1:], None]:
                assert ahead is not None
                fp = ahead[1].result()
                ahead = (
                    (following, pool.submit(fingerprint, following, encoding, scratch)) if following else None
                )
                yield fp
        finally:
            if ahead is not None:  # the caller stopped early: drop a copy made for nothing
                with contextlib.suppress(Exception):
                    unused = ahead[1].result()
                    if unused.readable_path != ahead[0]:
                        unused.readable_path.unlink(missing_ok=True)


def _load_file(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    path: Path,
    rel: str,
    stat: os.stat_result,
    fp: FileFingerprint,
    quarantine_dir: Path,
    run_id: str,
    suppressing: Suppression | None = None,
) -> FileResult:
    try:
        earlier = con.execute(
            # A retired file's content may be delivered again (after fixing the mapping): it loads.
            "select file_path from raw.load_log where table_name = ? and file_sha256 = ?"
            " and status in ('loaded', 'quarantined') limit 1",
            [spec.table, fp.sha256],
        ).fetchall()
        if earlier:
            note = f"same content as {earlier[0][0]}, already loaded"
            log_file(
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
            return _load_records(con, spec, fp, rel, stat.st_mtime, run_id, suppressing)
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
    log_file(
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


def _load_records(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    fp: FileFingerprint,
    rel: str,
    mtime: float,
    run_id: str,
    suppressing: Suppression | None = None,
) -> FileResult:
    """Read, type and write one file in one transaction; its counts must reconcile to commit.

    ``suppressing``: the privacy suppression list that applies (None: none)."""
    notes = list(fp.notes)
    # Rows holding a NUL byte, and transactions dated before CDP_EARLIEST_DATE_<SOURCE>, are
    # quarantined one by one.
    rules = RowRules(nul_bytes=fp.nul_bytes > 0, earliest=get_settings().earliest_date(spec.source))
    write = Write(con, spec, fp, rel, datetime.now(UTC), run_id, rules)
    con.execute("begin transaction")
    try:
        try:
            with _filters_kept_in_place(con):
                if spec.format.kind == "csv":
                    columns, rows_read, loaded, quarantined = write_csv(write)
                else:
                    columns, rows_read, loaded, quarantined = write_ndjson(write)
        except (duckdb.OutOfMemoryException, duckdb.InterruptException, duckdb.FatalException):
            raise  # the machine's problem, not the file's
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0][:300]
            raise FileRejected(f"DuckDB's reader failed on it: {type(exc).__name__}: {message}") from exc
        # Before suppression, which matches identifiers as they will be read downstream.
        notes += filter(None, [strip_protection(con, spec, fp.sha256, write.now)])
        suppressed = 0
        if suppressing:  # erased persons: their rows come out again before the counts are logged
            suppressed_rows, suppressed_lines, earlier = suppressing.suppress_loaded(
                con, spec.table, fp.sha256, write.now
            )
            loaded, quarantined = loaded - suppressed_rows, quarantined - suppressed_lines
            suppressed = suppressed_rows + suppressed_lines
            if earlier:
                notes.append(
                    "rows loaded earlier that belong to records kept out by this file erased: "
                    + ", ".join(f"{n} of {t}" for t, n in earlier.items())
                )
        notes += _kept_as_delivered(con, spec, fp.sha256, write.now)
        present = {c for c in columns.values() if c}
        drift = [h for h, c in columns.items() if c is None]
        notes += [f"column '{h}' read as {c}" for h, c in columns.items() if c and h != c]
        missing_optional = [c.name for c in spec.columns if c.name not in present]
        # A column the mapping file names, absent from the file: its values would be silently empty.
        notes += [
            f"WARNING: column '{c.name}' is mapped to '{c.aliases[0]}' in sources.yml, which is not in "
            f"{rel}: {c.name} is empty for every row of it"
            for c in spec.columns
            if c.aliases and c.name not in present
        ]
        if may_be_truncated(spec, fp):
            notes.append("no line break at the end: the last record was quarantined as possibly cut short")
        if rows_read != loaded + quarantined + suppressed:
            raise RuntimeError(
                f"{rel}: counts do not reconcile: {rows_read} rows read, {loaded} loaded, "
                f"{quarantined} quarantined, {suppressed} suppressed"
            )
        log_file(
            con,
            **_file_identity(spec, rel, fp, mtime),
            status="loaded",
            rows_read=rows_read,
            rows_loaded=loaded,
            rows_quarantined=quarantined,
            drift_columns=drift,
            missing_optional_columns=missing_optional,
            loaded_at=write.now,
            run_id=run_id,
            note="; ".join(notes) or None,
            rows_suppressed=suppressed,
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return FileResult(
        rel,
        "loaded",
        rows_read,
        loaded,
        quarantined,
        drift_columns=drift,
        note="; ".join(notes) or None,
        rows_suppressed=suppressed,
    )


def _kept_as_delivered(
    con: duckdb.DuckDBPyConnection, spec: ExportTable, sha256: str, now: datetime
) -> list[str]:
    """A note per ``keep_as_delivered`` column with values this file's rows kept as text only:
    the rows loaded, the value is not a valid one of its type, and someone may want to know."""
    notes = []
    for column in spec.delivered_columns:
        count, line, text = con.execute(
            f"""
            select count(*), min(_source_line), arg_min("{column.delivered_column}", _source_line)
            from raw.{spec.table}
            where _file_sha256 = ? and _loaded_at = ?
              and "{column.name}" is null and "{column.delivered_column}" is not null
            """,
            [sha256, now],
        ).fetchall()[0]
        if count:
            notes.append(
                f"{count} {column.name} value(s) not a valid {column.type}, kept as delivered in "
                f"{column.delivered_column} (first: line {line}, '{text[:40]}')"
            )
    return notes


@contextmanager
def _filters_kept_in_place(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep DuckDB from pushing the good / bad row filter below the projections that type the row.

    Pushed down, the filter inlines every reference to a projected value: each ``v[i]`` of the
    NDJSON path re-parsed the line (web events at 100k customers: 12.5 s for the insert instead of
    3.4 s). The setting is per database instance; the previous value is restored.
    """
    before = con.execute("select current_setting('disabled_optimizers')").fetchall()[0][0] or ""
    names = {n.strip() for n in str(before).split(",") if n.strip()} | {"filter_pushdown"}
    con.execute(f"set disabled_optimizers = {literal(','.join(sorted(names)))}")
    try:
        yield
    finally:
        con.execute(f"set disabled_optimizers = {literal(str(before))}")
