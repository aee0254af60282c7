"""Render the export-format reference (``docs/export-formats.md``) from the specs themselves."""

from __future__ import annotations

from orchestration.exports import SOURCES
from orchestration.exports.spec import Column
from orchestration.settings import REPO_ROOT

DOC_PATH = REPO_ROOT / "docs" / "export-formats.md"

INTRO = """\
# Export formats

Generated from `orchestration/exports/` by `cdp formats --write`; do not edit by hand (a test fails
when this file and the code disagree).

Drop files in these formats under `$CDP_DATA_DIR/landing/<source>/` (subfolders allowed; a `.gz`
suffix for gzip-compressed files). Column names are matched case-insensitively, in any order and
also without accents, spaces or punctuation (`E-mail` reads as `email`); columns not listed here
are kept in `_extra_columns` and reported as schema drift; optional columns may be absent. Files
in UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark, or the declared
encoding are read, with any line breaks (LF, CRLF, CR). A file missing a required column, empty,
not text (a workbook, a PDF), not in a readable encoding or already mojibake is quarantined whole,
naming what it is; a row that does not parse, whose value does not read as its type (a decimal
written with the other separator included), whose code is not an accepted value, or the last row
of a CSV file that does not end with a line break (possibly cut short), goes to
`raw.quarantine_rows` with its line number, raw text and reason. A record delivered again with
the same key is a new version: the latest delivered one is read downstream.

Your tools export other column names, another delimiter or other date formats? Describe the
difference in `$CDP_DATA_DIR/sources.yml` (or the file `CDP_SOURCES_FILE` names), per raw table;
no code to write. `cdp inspect FILE` then shows how a file would load (columns matched, first rows,
what would be quarantined and why) without writing anything.

```yaml
ecommerce_customers:                   # raw table, as in the headings below
  pattern: "customers_export*.csv"     # more file names of this export under landing/ecommerce/
  replace_patterns: false              # true: only the pattern(s) above, not customers_*.csv
  strip_apostrophes: true              # false: keep a leading ' before digits or + as data
  format:                              # CSV exports only; each key optional
    delimiter: ";"                     # , ; tab |
    encoding: utf-8                    # utf-8 or cp1252
    decimal: ","                       # , or .
    date_format: "%d/%m/%Y"            # strptime codes
    timestamp_format: "%d/%m/%Y %H:%M"  # null: ISO 8601
  columns:                             # our column: your file's column
    customer_id: "Customer ID"
    first_name: "First Name"
    email: "Email"
    zip: "Default Address Zip"
  required: [customer_id, created_at]  # replaces the required flags below (keys stay required)
```

The file is validated when a run or `cdp inspect` reads it: an unknown table, key or column, or
a bad value, stops with an error naming the file and the key. What it says applies everywhere:

- `pattern:` (one pattern or a list) **adds** to the export's own pattern, so the files you
  already deliver keep loading; `replace_patterns: true` makes it the only one.
- `required:` decides both which rows are quarantined for a missing value and which blocking
  `<column>_not_null` checks a run applies; `cdp inspect` runs the same blocking checks on the
  file and prints what a run would stop on (check, file, line, value).
- A column named under `columns:` that a file lacks is a warning naming the file and the column
  (`cdp inspect`, the load log's note, the run log): its values would otherwise be silently empty.
- A leading apostrophe before digits or `+` (`'7210448301100`, `'+33612345678`: how spreadsheets
  and Shopify protect a number typed as text) is removed from text columns at load, with a note
  in the load log; `strip_apostrophes: false` keeps it. Typed columns (numbers, dates) do not
  accept it: such a value is quarantined.

A delivered file that should not have been loaded is taken out again with `cdp unload FILE`
([operations.md](operations.md#a-bad-delivery-start-to-finish)).

Every raw table also has the lineage columns `_source_file`, `_source_line` (line where the record
starts), `_file_sha256`, `_loaded_at` and `_extra_columns` (JSON).
"""


def _accepted(values: tuple[str, ...]) -> str:
    return f" Accepted: {', '.join(values)} (any case)." if values else ""


def _kept(column: Column) -> str:
    if not column.keep_as_delivered:
        return ""
    return (
        f" A value that is not a {column.type} (31/02, month 13) loads: the column is empty and "
        f"`{column.delivered_column}` keeps the text as delivered."
    )


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
                    f"| {c.description}{_accepted(c.values)}{_kept(c)} |"
                )
            parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)
