"""Which landing files a load reads: the export's name pattern, temporary names, files still
being written, files already logged, and the files no export reads (recorded, not loaded).

A file's name is compared with an export's pattern, never used as one; a file is read once it
has stopped changing (the landing sensor's rule), and once per path, size and modification time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import Path

import duckdb

from orchestration.exports.spec import ExportTable
from orchestration.ingest.files import HEAD_BYTES, kind_of, sha256_of
from orchestration.ingest.results import FileResult
from orchestration.warehouse.raw import ensure_raw_schema, log_file

# Names that are never an export: editors' and copiers' temporary files.
TEMPORARY = ("~$*", "*.tmp", "*.part", "*.crdownload", "*.partial", "*.swp")


def matches(spec: ExportTable, rel: str) -> bool:
    """Is ``rel`` (a path relative to landing/) a file of this export? A ``.gz`` suffix is allowed.

    File names are compared with the export's pattern, never used as one.
    """
    source, _, rest = rel.partition("/")
    name = rest.rsplit("/", 1)[-1].lower()
    if source != spec.source or not rest or any(fnmatch(name, t) for t in TEMPORARY) or name.startswith("."):
        return False
    return any(fnmatch(name.removesuffix(".gz"), pattern.lower()) for pattern in spec.patterns)


def landing_files(landing_dir: Path, spec: ExportTable) -> list[Path]:
    """Files of this export table under ``landing/<source>/``, in name order (subfolders too)."""
    root = landing_dir / spec.source
    if not root.exists():
        return []
    return sorted(
        p for p in root.rglob("*") if p.is_file() and matches(spec, p.relative_to(landing_dir).as_posix())
    )


def settle(paths: list[Path], settle_seconds: float) -> tuple[list[Path], list[Path]]:
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


def already_logged(
    con: duckdb.DuckDBPyConnection, spec: ExportTable, rel: str, stat: os.stat_result
) -> str | None:
    """The status this path, with this size and modification time, was logged with (no re-hash
    needed), or None. ``retired`` first: ``cdp unload`` took it out, and the run says so."""
    row = con.execute(
        "select status from raw.load_log where table_name = ? and file_path = ? and file_size = ?"
        " and file_mtime = ? order by status = 'retired' desc limit 1",
        [spec.table, rel, stat.st_size, stat.st_mtime],
    ).fetchall()
    return row[0][0] if row else None


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
        near = [
            t
            for t in tables
            if t.source == source and any(fnmatch(stem, p.lower().split(".", 1)[0]) for p in t.patterns)
        ]
        name = path.name.lower()
        if not rest:
            status, why = "ignored", "not in a source folder (landing/<source>/...)"
        elif not any(t.source == source for t in tables):
            status, why = "ignored", f"no source system called '{source}'"
        elif name.startswith(".") or any(fnmatch(name, t) for t in TEMPORARY):
            status, why = "ignored", "hidden or temporary file (renamed when complete?)"
        elif near:
            expected = ", ".join(f"{' or '.join(t.patterns)} ({t.format.kind})" for t in near)
            status, why = "unsupported", f"{kind.name}: the export {expected} is read from text files only"
        else:
            patterns = ", ".join(p for t in tables if t.source == source for p in t.patterns)
            status, why = "ignored", f"matches no export of {source} ({patterns})"
        log_file(
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
