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

A record kept out by a listed e-mail or phone (a later order of the person, a household member's
ticket with their phone) gets its own entry (``list_records_carrying_identifiers``): what belongs
to it carries no e-mail or phone, and must stay out too, whether it is loaded after the record or
was loaded before it (then it is erased from its file's rows, ``raw.load_log.rows_erased``). An
erasure applies the same list to the whole raw layer (``erase_listed``), so the warehouse after
an erasure is the one a reload of the same landing files gives.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.identity import RECORD_SOURCES, install_macros
from orchestration.lib.secret import installation_secret
from orchestration.privacy.subject import LINE_FIELDS, line_emails, record_links
from orchestration.settings import data_folder
from orchestration.warehouse import tables_in

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
    """The privacy folder of the data folder ``data_dir`` (``Settings.privacy_dir``)."""
    return data_folder(data_dir).privacy_dir


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
    # Read by DuckDB, not row by row from Python: every raw table's load reads the whole list.
    return con.execute(
        "insert into privacy.suppressions select * from read_csv(?, header = true, delim = ',', "
        "columns = {'kind': 'varchar', 'entry_hash': 'varchar', 'request_id': 'varchar', "
        "'created_at': 'timestamptz'})",
        [str(path)],
    ).fetchall()[0][0]


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
    if not entries:
        return
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
    conditions = [
        _listed("record", f"'{source}:' || \"{column}\"") for column, source in record_links().get(table, [])
    ]
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


def list_records_carrying_identifiers(
    con: duckdb.DuckDBPyConnection, table: str, where: str = "true", params: list | None = None
) -> list[tuple[str, str, str, str]]:
    """List the records of the ``raw.<table>`` rows (those matching ``where``) that carry a listed
    e-mail or phone: the rows that belong to such a record (an order's lines, a contact's consents,
    an account's web events) carry no identifier of their own, and are kept out through their
    record whichever is loaded first. Adds the entries to ``privacy.suppressions`` (under the
    request that listed the identifier) and returns them, for the caller to keep in the list."""
    own = [(source, key) for source, (source_table, key) in RECORD_SOURCES.items() if source_table == table]
    identifiers = [(kind, c) for kind, columns in IDENTIFIER_COLUMNS.get(table, {}).items() for c in columns]
    if not own or not identifiers:
        return []
    parts = []
    for source, key in own:
        record = hash_sql("record", f"'{source}:' || r.\"{key}\"")
        for kind, column in identifiers:
            identifier = hash_sql(kind, f'cdp_std_{kind}(r."{column}")')
            parts.append(
                f"select listed.request_id, {record} as entry_hash from scoped as r "
                f"join privacy.suppressions as listed "
                f"on listed.kind = '{kind}' and listed.entry_hash = {identifier}"
            )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return add_entries(
        con,
        f"""
        with scoped as (select * from raw.{table} where {where})
        select 'record', entry_hash, min(request_id), ?::timestamptz
        from ({" union all ".join(parts)})
        group by entry_hash
        """,
        [*(params or []), now],
    )


def add_entries(
    con: duckdb.DuckDBPyConnection, select_sql: str, params: list | None = None
) -> list[tuple[str, str, str, str]]:
    """Add to ``privacy.suppressions`` the entries ``select_sql`` gives (kind, entry_hash, request_id,
    created_at; one row per entry_hash) that are not listed yet; returns those added, for the data
    folder's list (``append_entries``). In SQL: a retention erasure lists thousands of records."""
    return con.execute(
        f"""
        insert into privacy.suppressions
        select * from ({select_sql}) as new
        where new.entry_hash not in (select entry_hash from privacy.suppressions)
        returning kind, entry_hash, request_id, created_at::varchar
        """,
        params or [],
    ).fetchall()


def erase_listed(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict[str, int]:
    """Delete the rows of ``raw.<table>`` (each of ``tables``) and the quarantined lines of those
    tables that the list suppresses; each file's ``raw.load_log`` row counts what was erased from it
    (``rows_erased``, ``quarantine_rows_erased``), so that every file still reconciles. Returns the
    rows removed per ``raw.<table>`` and ``raw.quarantine_rows`` (tables with any)."""
    present = tables_in(con, "raw")
    removed: dict[str, int] = {}
    lines: list[str] = []
    for table in sorted(set(tables) & present):
        condition = suppressed_condition(table)
        if condition is not None:
            removed[f"raw.{table}"] = _delete_counted(
                con,
                f"select rowid as row_id, '{table}' as table_name, _file_sha256 as file_sha256 "
                f"from raw.{table} where {condition}",
                f"raw.{table}",
                "rows_erased",
            )
        lines.append(
            f"select rowid as row_id, table_name, file_sha256 from raw.quarantine_rows "
            f"where table_name = '{table}' and {quarantined_condition(table)}"
        )
    if lines:
        removed["raw.quarantine_rows"] = _delete_counted(
            con, " union all ".join(lines), "raw.quarantine_rows", "quarantine_rows_erased"
        )
    return {name: n for name, n in removed.items() if n}


def _delete_counted(con: duckdb.DuckDBPyConnection, rows_sql: str, table: str, counter: str) -> int:
    """Delete the rows ``rows_sql`` selects (row_id, table_name, file_sha256) from ``table``,
    adding each file's count to its ``raw.load_log`` row's ``counter``."""
    con.execute(f"create or replace temp table erased_rows as {rows_sql}")
    try:
        con.execute(
            f"""
            update raw.load_log as log set {counter} = coalesce(log.{counter}, 0) + e.n
            from (select table_name, file_sha256, count(*) as n from erased_rows group by all) as e
            where log.table_name = e.table_name and log.file_sha256 = e.file_sha256
              and log.status = 'loaded'
            """
        )
        return con.execute(f"delete from {table} where rowid in (select row_id from erased_rows)").fetchall()[
            0
        ][0]
    finally:
        con.execute("drop table if exists erased_rows")


def suppress_loaded(
    con: duckdb.DuckDBPyConnection, data_dir: Path, table: str, file_sha256: str, loaded_at: object
) -> tuple[int, int, dict[str, int]]:
    """Apply the list to one file's load (inside its transaction): (rows deleted, quarantined lines
    deleted, rows of earlier loads erased because they belong to a record this load listed)."""
    scope = "_file_sha256 = ? and _loaded_at = ?"
    listed = list_records_carrying_identifiers(con, table, scope, [file_sha256, loaded_at])
    append_entries(data_dir, listed)
    condition = suppressed_condition(table)
    rows = 0
    if condition is not None:
        rows = con.execute(
            f"delete from raw.{table} where {scope} and ({condition})", [file_sha256, loaded_at]
        ).fetchall()[0][0]
    lines = con.execute(
        "delete from raw.quarantine_rows where table_name = ? and file_sha256 = ? and quarantined_at = ? "
        f"and {quarantined_condition(table)}",
        [table, file_sha256, loaded_at],
    ).fetchall()[0][0]
    # What belongs to the records just listed, loaded before them (an order's lines delivered first).
    earlier = erase_listed(con, children_of(table)) if listed else {}
    return rows, lines, earlier


@dataclass(frozen=True)
class SuppressionList:
    """The suppression list of one data folder, as ingestion applies it while loading a file
    (``orchestration.ingest.loader.Suppression``)."""

    data_dir: Path

    def prepare(self, con: duckdb.DuckDBPyConnection) -> bool:
        return prepare(con, self.data_dir)

    def suppress_loaded(
        self, con: duckdb.DuckDBPyConnection, table: str, file_sha256: str, loaded_at: datetime
    ) -> tuple[int, int, dict[str, int]]:
        return suppress_loaded(con, self.data_dir, table, file_sha256, loaded_at)


def children_of(table: str) -> list[str]:
    """The raw tables holding rows that belong to a record of ``table`` (``subject.CHILDREN``)."""
    own = {source for source, (source_table, _) in RECORD_SOURCES.items() if source_table == table}
    return sorted(
        child
        for child, links in record_links().items()
        if child != table and any(source in own for _, source in links)
    )


def quarantined_condition(table: str) -> str:
    """SQL condition on ``raw.quarantine_rows`` lines of ``table``: the line holds a suppressed
    e-mail, or a suppressed record's id as a whole field (as ``subject.create_subject_lines``
    finds a person's lines)."""
    conditions = [
        f"exists (select 1 from unnest({line_emails()}) as found(x) "
        f"where {_listed('email', 'cdp_std_email(found.x)')})"
    ]
    for source in dict.fromkeys(source for _, source in record_links().get(table, [])):
        record = _listed("record", f"'{source}:' || trim(field.x)")
        conditions.append(f"exists (select 1 from unnest({LINE_FIELDS}) as field(x) where {record})")
    return "(" + " or ".join(conditions) + ")"
