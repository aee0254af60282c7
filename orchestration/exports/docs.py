"""Render the export-format reference (``docs/export-formats.md``) from the specs themselves."""

from __future__ import annotations

from orchestration.exports import SOURCES
from orchestration.settings import REPO_ROOT

DOC_PATH = REPO_ROOT / "docs" / "export-formats.md"

INTRO = """\
# Export formats

Generated from `orchestration/exports/` by `cdp formats --write`; do not edit by hand (a test fails
when this file and the code disagree).

Drop files in these formats under `$CDP_DATA_DIR/landing/<source>/` (subfolders allowed). Column
names are matched case-insensitively and in any order; columns not listed here are kept in
`_extra_columns` and reported as schema drift; optional columns may be absent. A file missing a
required column, truncated, empty or not in the declared encoding is quarantined whole; a row
that does not parse, or whose value does not read as its type, goes to `raw.quarantine_rows` with
its line number, raw text and reason. UTF-8 files may start with a byte-order mark.

Every raw table also has the lineage columns `_source_file`, `_source_line` (line where the record
starts), `_file_sha256`, `_loaded_at` and `_extra_columns` (JSON).
"""


def render() -> str:
    parts = [INTRO]
    for source, tables in SOURCES.items():
        parts.append(f"## {source}\n")
        for t in tables:
            parts.append(f"### `landing/{source}/{t.pattern}` → `raw.{t.table}`\n")
            split = (
                "one file per month (older records in one `_initial` file)"
                if t.partitioned_by == "month"
                else "one file"
            )
            parts.append(
                f"{t.description}\n\nFormat: {t.format.describe()}. Key: `{', '.join(t.key)}`. "
                f"The generator writes {split}.\n"
            )
            rows = ["| column | type | required | PII | meaning |", "|---|---|---|---|---|"]
            for c in t.columns:
                rows.append(
                    f"| `{c.name}` | {c.type} | {'yes' if c.required else ''} | {'yes' if c.pii else ''} "
                    f"| {c.description} |"
                )
            parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)
