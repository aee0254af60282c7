"""Suppression: an erased person's records never come back, whatever is loaded later.

The warehouse is re-derived from landing files, so deleting a person's rows is not enough: the
same files loaded again into a new warehouse, or tomorrow's export that still holds them, would
bring them back. Erasure therefore leaves suppression entries that ingestion applies to every
file it loads: a salted SHA-256 of each identifier of the person (standardised e-mail and phone)
and of each of their source records (``source_system:record id``), never the value itself.

The entries live in the data folder, outside the warehouse (``privacy/suppressions.csv``, with
the salt they were made with in ``privacy/salt``, mode 600), so a warehouse rebuilt from scratch
still applies them; each load copies them into ``privacy.suppressions``. A loaded row is
suppressed when its record, the record it belongs to (an order's lines, a contact's consents, an
account's web events) or one of its e-mails or phones is listed; it is counted in
``raw.load_log.rows_suppressed``, never dropped silently.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import duckdb

from orchestration.identity.standardise import RECORD_SOURCES, install_macros
from orchestration.privacy.subject import CHILDREN
from orchestration.secret import installation_secret

SUPPRESSIONS_FILE = "suppressions.csv"
REQUESTS_FILE = "requests.jsonl"  # the audit of privacy requests (orchestration/privacy/erase.py)
SALT_FILE = "salt"
FIELDS = ("kind", "entry_hash", "request_id", "created_at")

# The columns of each raw table holding an e-mail or a phone of a person (as identity reads them).
IDENTIFIER_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "pos_tickets": {"email": ("email_client",), "phone": ("tel_client",)},
    "ecommerce_customers": {"email": ("email",), "phone": ("phone",)},
    "ecommerce_orders": {"email": ("email",), "phone": ("billing_phone",)},
    "crm_contacts": {"email": ("email",), "phone": ("phone",)},
    "crm_tickets": {"email": ("requester_email",), "phone": ("requester_phone",)},
    "survey_responses": {"email": ("respondent_email",), "phone": ()},
}


def privacy_dir(data_dir: Path) -> Path:
    return data_dir / "privacy"


def salt(data_dir: Path) -> str:
    """The suppression list's salt (``privacy/salt``): without a secret salt, anyone holding the
    list could hash a file of e-mails and find who was erased."""
    return installation_secret(privacy_dir(data_dir) / SALT_FILE)


def hash_sql(kind: str, value_sql: str) -> str:
    """SQL of the entry hash of one identifier; needs ``set variable cdp_privacy_salt``."""
    return f"sha256(getvariable('cdp_privacy_salt') || '{kind}:' || ({value_sql}))"


def load_entries(con: duckdb.DuckDBPyConnection, data_dir: Path) -> int:
    """``privacy.suppressions`` as the data folder's list holds it; the number of entries."""
    con.execute("create schema if not exists privacy")
    con.execute(
        "create or replace table privacy.suppressions "
        "(kind varchar, entry_hash varchar, request_id varchar, created_at timestamptz)"
    )
    con.execute("set variable cdp_privacy_salt = ?", [salt(data_dir)])
    _load_requests(con, privacy_dir(data_dir) / REQUESTS_FILE)
    path = privacy_dir(data_dir) / SUPPRESSIONS_FILE
    if not path.exists():
        return 0
    with path.open(newline="", encoding="utf-8") as f:
        rows = [tuple(row[k] for k in FIELDS) for row in csv.DictReader(f)]
    if rows:
        con.executemany("insert into privacy.suppressions values (?, ?, ?, ?)", rows)
    return len(rows)


def _load_requests(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """``privacy.requests``: the audit of the data folder's requests, one row each."""
    con.execute(
        "create or replace table privacy.requests (request_id varchar, requested_at timestamptz, "
        "kind varchar, found_by varchar, customers integer, identity_records integer, rows_removed json, "
        "suppression_entries integer)"
    )
    if not path.exists():
        return
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        return
    con.executemany(
        "insert into privacy.requests values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [r["request_id"], r["requested_at"], r["kind"], r["found_by"], r["customers"],
             r["identity_records"], json.dumps(r["rows_removed"]), r["suppression_entries"]]
            for r in records
        ],
    )  # fmt: skip


def append_entries(data_dir: Path, entries: list[tuple[str, str, str, str]]) -> None:
    """Add entries (kind, hash, request id, time) to the data folder's list, flushed to disk."""
    path = privacy_dir(data_dir) / SUPPRESSIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(FIELDS)
        writer.writerows(entries)
        f.flush()
        os.fsync(f.fileno())


def suppressed_condition(table: str) -> str | None:
    """SQL condition on ``raw.<table>`` rows that are suppressed (None: nothing can identify one).
    Needs ``privacy.suppressions`` and the standardisation macros."""
    conditions = []
    for source, (source_table, column) in RECORD_SOURCES.items():
        if source_table == table:
            conditions.append(_listed("record", f"'{source}:' || \"{column}\""))
    for column, source in CHILDREN.get(table, []):
        conditions.append(_listed("record", f"'{source}:' || \"{column}\""))
    for kind, columns in IDENTIFIER_COLUMNS.get(table, {}).items():
        conditions += [_listed(kind, f'cdp_std_{kind}("{column}")') for column in columns]
    return " or ".join(conditions) or None


def _listed(kind: str, value_sql: str) -> str:
    return (
        f"{hash_sql(kind, value_sql)} in (select entry_hash from privacy.suppressions where kind = '{kind}')"
    )


def prepare(con: duckdb.DuckDBPyConnection, data_dir: Path) -> bool:
    """Ready ``con`` to suppress rows while loading; False when nothing is suppressed at all."""
    if load_entries(con, data_dir) == 0:
        return False
    install_macros(con, temporary=True)
    return True


def suppress_loaded(con: duckdb.DuckDBPyConnection, table: str, file_sha256: str, loaded_at: object) -> int:
    """Delete the suppressed rows of one file's load (inside its transaction); how many."""
    condition = suppressed_condition(table)
    if condition is None:
        return 0
    return con.execute(
        f"delete from raw.{table} where _file_sha256 = ? and _loaded_at = ? and ({condition})",
        [file_sha256, loaded_at],
    ).fetchall()[0][0]


# An e-mail address inside a line kept as text (a quarantined row could not be typed, so its
# columns are not known; its e-mails still can be found).
EMAIL_IN_TEXT = r"[^\s,;\"'<>|]+@[^\s,;\"'<>|]+"


def quarantined_condition() -> str:
    """SQL condition on ``raw.quarantine_rows``: the line holds a suppressed e-mail."""
    return (
        f"exists (select 1 from unnest(regexp_extract_all(raw_text, {_sql_literal(EMAIL_IN_TEXT)})) "
        f"as found(x) where {_listed('email', 'cdp_std_email(found.x)')})"
    )


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def suppress_quarantined(
    con: duckdb.DuckDBPyConnection, table: str, file_sha256: str, loaded_at: object
) -> int:
    """Delete one file's quarantined lines that hold a suppressed e-mail; how many."""
    return con.execute(
        "delete from raw.quarantine_rows where table_name = ? and file_sha256 = ? and quarantined_at = ? "
        f"and {quarantined_condition()}",
        [table, file_sha256, loaded_at],
    ).fetchall()[0][0]
