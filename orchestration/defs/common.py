"""What every Dagster module of the code location shares: owners, the warehouse pool, UI helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg

OWNERS = ["team:data-engineering"]
# Every step that writes the warehouse joins this pool; the instance caps it at one
# (orchestration/runtime/instance.py).
WAREHOUSE_POOL = "duckdb_warehouse"
# Built by its own job and schedule (orchestration/defs/serving.py), not by the daily pipeline.
IDENTITY_KPI_RANGE_KEY = dg.AssetKey(["serving", "identity_kpi_range"])


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], width: int = 40) -> str:
    """Rows as a Markdown table (the UI renders it); cells cut to ``width`` characters."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = ["" if v is None else str(v).replace("|", "\\|").replace("\n", " ")[:width] for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
