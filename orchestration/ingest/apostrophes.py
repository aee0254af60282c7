"""Spreadsheet text protection: a leading apostrophe before digits or ``+`` is not data.

Excel, LibreOffice and Shopify's exports write an identifier or a phone number that must stay
text as ``'7210448301100`` or ``'+33612345678``; loaded as is, the apostrophe breaks joins on the
identifier and the phone's format. The loader strips it from the text columns of a file's rows,
inside the file's transaction, and says how many values it changed (``raw.load_log.note``).
A mapping file turns it off per table (``strip_apostrophes: false``).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from orchestration.exports.spec import ExportTable

PROTECTED = "^''[0-9+]"  # as a SQL literal: an apostrophe, then a digit or +


def strip_protection(
    con: duckdb.DuckDBPyConnection, spec: ExportTable, sha256: str, now: datetime
) -> str | None:
    """Strip the apostrophe from this load's text values that carry one; a note, or None.

    One scan counts the protected values per column; only columns that have some are updated.
    """
    text = [c.name for c in spec.columns if c.type == "varchar"]
    if not spec.strip_apostrophes or not text:
        return None
    where = "_file_sha256 = ? and _loaded_at = ?"
    counts = con.execute(
        "select "
        + ", ".join(f"""count(*) filter (where regexp_matches("{c}", '{PROTECTED}'))""" for c in text)
        + f" from raw.{spec.table} where {where}",
        [sha256, now],
    ).fetchall()[0]
    changed = {c: n for c, n in zip(text, counts, strict=True) if n}
    for column in changed:
        con.execute(
            f"""update raw.{spec.table} set "{column}" = substr("{column}", 2)
            where {where} and regexp_matches("{column}", '{PROTECTED}')""",
            [sha256, now],
        )
    if not changed:
        return None
    values = ", ".join(f"{n} {c}" for c, n in changed.items())
    return (
        f"leading apostrophe (spreadsheet text protection) removed from {values} value(s) "
        "(strip_apostrophes: false in sources.yml keeps it)"
    )
