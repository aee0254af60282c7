"""The floor: one DuckDB scan of every landing file, the least any pipeline over them could cost.

``cdp bench`` and ``ingest_measure`` put their times against it.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from orchestration.exports import ALL_TABLES
from orchestration.ingest.landing import landing_files


def floor_scan(landing: Path, threads: int) -> dict:
    """One DuckDB pass over every landing file: every field of every record parsed, nothing kept.

    Each value is hashed so that DuckDB cannot skip parsing it (a bare ``count(*)`` over a CSV or
    NDJSON reader only has to find record boundaries, which is about half the work at 100k).
    """
    con = duckdb.connect(config={"threads": threads})
    rows = files = size = 0
    started = time.perf_counter()
    for spec in ALL_TABLES:
        paths = [str(p) for p in landing_files(landing, spec)]
        if not paths:
            continue
        files += len(paths)
        size += sum(Path(p).stat().st_size for p in paths)
        if spec.format.kind == "csv":
            # cp1252 parsed as latin-1: same bytes, one byte per character, same work.
            encoding = "latin-1" if spec.format.encoding == "cp1252" else "utf-8"
            source = (
                f"read_csv({paths}, delim='{spec.format.delimiter}', quote='\"', escape='\"', "
                f"header=true, all_varchar=true, encoding='{encoding}', strict_mode=false, "
                "null_padding=true)"
            )
        else:
            source = f"read_json({paths}, format='newline_delimited')"
        rows += con.execute(f"select count(*), max(hash(columns(*))) from {source}").fetchall()[0][0]
    seconds = time.perf_counter() - started
    con.close()
    return {"seconds": round(seconds, 3), "rows": rows, "files": files, "megabytes": round(size / 1e6, 1)}
