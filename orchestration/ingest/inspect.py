"""``cdp inspect FILE``: how a file would load, shown without writing anything.

The file goes through the real loader (the same sniffing, parsing, typing and quarantine rules)
into a throw-away in-memory DuckDB database, with the mapping file applied; the warehouse, the
load log and the quarantine folder are never touched. The raw table's blocking quality checks
(the same suite a run applies, ``quality.suites.raw_suite``, from the same effective contract)
then run on what loaded, so inspect says what the run would stop on, file, line and value.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.exports.spec import ExportTable
from orchestration.ingest.landing import matches
from orchestration.ingest.loader import load_table
from orchestration.ingest.results import FileResult

PREVIEW_ROWS = 5
SHOWN_QUARANTINE = 10


@dataclass
class Inspection:
    """What loading the file would do."""

    table: str
    result: FileResult
    columns: list[tuple[str, str]]  # (our column, how it is filled)
    preview_header: list[str]
    preview: list[tuple]
    quarantined: list[tuple[int, str]]
    blocking: list[str]  # names of the run's blocking raw checks
    failed: list[tuple[str, str]]  # (check, what the run would say) for each that would fail


def table_for(
    path: Path, landing_dir: Path, tables: tuple[ExportTable, ...], name: str | None
) -> ExportTable:
    """The export table a file belongs to: named, or found from its place under landing/."""
    if name:
        for t in tables:
            if t.table == name:
                return t
        raise ValueError(f"unknown table '{name}' (known: {', '.join(t.table for t in tables)})")
    try:
        rel = path.resolve().relative_to(landing_dir.resolve()).as_posix()
    except ValueError:
        rel = None
    candidates = [t for t in tables if rel and matches(t, rel)]
    if not candidates:  # outside landing/: by file name within any source
        candidates = [t for t in tables if matches(t, f"{t.source}/{path.name}")]
    if len(candidates) != 1:
        found = ", ".join(t.table for t in candidates) or "none"
        raise ValueError(f"{path.name}: cannot tell which export it is (matches: {found}); pass --table")
    return candidates[0]


def inspect_file(path: Path, spec: ExportTable) -> Inspection:
    """Load ``path`` as ``spec`` into an in-memory database and report what happened."""
    with tempfile.TemporaryDirectory(prefix="cdp-inspect-") as tmp:
        landing = Path(tmp) / "landing"
        target = landing / spec.source / path.name
        target.parent.mkdir(parents=True)
        target.symlink_to(path.resolve())
        con = duckdb.connect()
        try:
            result = load_table(
                con, spec, landing, Path(tmp) / "quarantine", log=lambda _: None, files=[target]
            )
            (file_result,) = result.files
            blocking, failed = _blocking_checks(con, spec) if file_result.status == "loaded" else ([], [])
            columns = _column_report(con, spec)
            shown = [*[c.name for c in spec.columns if not c.pii][:8], "_source_line"]
            select = ", ".join(f'"{c}"' for c in shown)
            preview = con.execute(
                f"select {select} from raw.{spec.table} order by _source_line limit {PREVIEW_ROWS}"
            ).fetchall()
            quarantined = con.execute(
                f"select line_number, reason from raw.quarantine_rows order by line_number "
                f"limit {SHOWN_QUARANTINE}"
            ).fetchall()
        finally:
            con.close()
    file_result.file = str(path)
    return Inspection(spec.table, file_result, columns, shown, preview, quarantined, blocking, failed)


def _blocking_checks(con: duckdb.DuckDBPyConnection, spec: ExportTable) -> tuple[list[str], list[str]]:
    """The run's blocking raw checks on the rows that loaded, and what each failing one would say.

    Freshness is left out: it reads the source's other tables and is a warning, not a block.
    Great Expectations is imported here only (2-3 s), when a file did load."""
    from orchestration.quality.gx import validate
    from orchestration.quality.suites import raw_suite
    from orchestration.settings import get_quality_settings

    suite = raw_suite(spec, get_quality_settings(), freshness=False)
    suite = dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.critical))
    outcomes, _ = validate(con, suite)
    # A failed check's reason names the failing values with their file and line, as in a run.
    failed = [(o.check.name, o.reason) for o in outcomes if not o.success]
    return [c.name for c in suite.checks], failed


def _column_report(con: duckdb.DuckDBPyConnection, spec: ExportTable) -> list[tuple[str, str]]:
    row = con.execute("select missing_optional_columns from raw.load_log limit 1").fetchall()
    missing = set(row[0][0] or []) if row else set()
    report = []
    for c in spec.columns:
        state = "absent (optional)" if c.name in missing else f"read as {c.type}"
        if c.aliases and c.name in missing:
            state = f"MISSING: mapped to '{c.aliases[0]}' in sources.yml, not in the file (empty)"
        if c.required:
            state += ", required"
        report.append((c.name, state))
    return report
