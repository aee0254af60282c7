"""Right to erasure (RGPD art. 17): remove a person from the warehouse and keep them out.

``erase`` works on the raw layer, where everything else is derived from, in one transaction:

1. the person is found as for a right of access (``subject.py``): their customers and identity
   records;
2. suppression entries are written to the data folder's list first (salted hashes of their
   standardised e-mails and phones and of each source record: never a value), so that no later
   load brings them back, even into a rebuilt warehouse;
3. the list is applied to the whole raw layer, as ingestion applies it to a file it loads
   (``suppression.erase_listed``): their rows (every version), the rows that belong to their
   records (lines, consents, web events), rows of other records carrying one of their e-mails or
   phones with what belongs to those, and the quarantined lines holding one of their e-mails or
   record ids; each file's ``raw.load_log`` row counts what was erased from it, so every file
   still reconciles (read = loaded + quarantined + suppressed + erased). The warehouse after an
   erasure is therefore the one a reload of the same landing files gives;
4. an audit record goes to ``privacy/requests.jsonl`` in the data folder, shown as the table
   ``privacy.requests``: request id, time, kind, how the person was found, counts per table,
   never a personal value.

The run that follows (``cdp privacy erase`` starts it) derives everything else again without
them: identity resolution sees their records gone (an incremental run removes them from every
identity table and re-clusters what they connected), dbt rebuilds its incremental models in full
because raw rows went away, the serving copy, Parquet files and reports are written again.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.exports import ALL_TABLES
from orchestration.lib.atomic import write_text_atomically
from orchestration.lib.spreadsheet_safe import csv_text
from orchestration.privacy import suppression
from orchestration.privacy.subject import Subject, create_subject_records
from orchestration.warehouse.raw import ensure_raw_schema


@dataclass(frozen=True)
class Erasure:
    request_id: str
    requested_at: str
    customers: int
    identity_records: int
    rows_removed: dict[str, int] = field(default_factory=dict)  # "raw.<table>" / "raw.quarantine_rows"
    suppression_entries: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows_removed.values())

    def describe_removed(self) -> str:
        """``3 rows of raw.crm_consents, 1 rows of raw.crm_contacts, …``"""
        return ", ".join(f"{n} rows of {table}" for table, n in self.rows_removed.items())


def erase(
    con: duckdb.DuckDBPyConnection,
    subject: Subject,
    data_dir: Path,
    kind: str = "erasure",
    suppress_identifiers: bool = True,
    dry_run: bool = False,
) -> Erasure:
    """Delete ``subject`` from the raw layer and suppress them for good; see the module's text.

    ``suppress_identifiers``: also keep out any later record with one of their e-mails or phones
    (an erasure request). A retention erasure keeps out only the records it erased: a person who
    comes back later starts a new relationship, and their new records load.
    ``dry_run``: count what would go, change nothing (the same statements, rolled back)."""
    for spec in ALL_TABLES:
        ensure_raw_schema(con, spec)
    suppression.load_entries(con, data_dir)  # also sets the salt variable
    request_id = f"erase-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    create_subject_records(con, subject)
    identity_records = con.execute("select count(*) from subject_records").fetchall()[0][0]

    record_hash = suppression.hash_sql("record", "source_system || ':' || source_record_id")
    identifiers = "true" if suppress_identifiers else "false"
    con.execute("begin transaction")
    try:
        # The entries, computed in SQL (the salt never leaves DuckDB's variable) and kept in the
        # data folder's list before anything is deleted: a crash after this point leaves the person
        # suppressed at the next load, never half-forgotten.
        entries = suppression.add_entries(
            con,
            f"""
            select distinct kind, entry_hash, ? as request_id, ?::timestamptz as created_at from (
                select 'record' as kind, {record_hash} as entry_hash from subject_records
                union all
                select 'email', {suppression.hash_sql("email", "email")} from identity.records
                where {identifiers} and email is not null
                  and unique_id in (select unique_id from subject_records)
                union all
                select 'phone', {suppression.hash_sql("phone", "phone")} from identity.records
                where {identifiers} and phone is not null
                  and unique_id in (select unique_id from subject_records)
            )
            """,
            [request_id, now],
        )
        if not dry_run:
            suppression.append_entries(data_dir, entries)
        # Records of rows carrying their e-mails or phones (a ticket they gave their e-mail on that
        # identity kept apart, a household member's order with their phone) are kept out too, as a
        # reload would: listed so that what belongs to them goes with them.
        cascaded = [
            entry
            for table in sorted(suppression.IDENTIFIER_COLUMNS)
            for entry in suppression.list_records_carrying_identifiers(con, table)
        ]
        if not dry_run:
            suppression.append_entries(data_dir, cascaded)
        # The whole raw layer through the list: exactly what a reload of the landing files keeps out.
        removed = suppression.erase_listed(con, [spec.table for spec in ALL_TABLES])
        erasure = Erasure(
            request_id,
            now,
            len(subject.customer_ids),
            identity_records,
            removed,
            len(entries) + len(cascaded),
        )
        con.execute("rollback" if dry_run else "commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists subject_records")
    if not dry_run:
        _append_request_file(data_dir, erasure, kind, subject.found_by)
    suppression.load_entries(con, data_dir)  # privacy.requests with this request; a dry run's entries gone
    return erasure


def _append_request_file(data_dir: Path, erasure: Erasure, kind: str, found_by: str) -> None:
    """The audit outside the warehouse too: it must outlive a warehouse rebuilt from the files."""
    path = suppression.privacy_dir(data_dir) / suppression.REQUESTS_FILE
    record = {
        "request_id": erasure.request_id,
        "requested_at": erasure.requested_at,
        "kind": kind,
        "found_by": found_by,
        "customers": erasure.customers,
        "identity_records": erasure.identity_records,
        "rows_removed": erasure.rows_removed,
        "suppression_entries": erasure.suppression_entries,
    }
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


@dataclass(frozen=True)
class RetentionReview:
    due: list[tuple[str, str, object, object]]  # (customer id, rule, last activity, retained until)
    report: Path  # privacy/retention_review.csv
    erasure: Erasure | None  # with ``apply`` and anyone due

    @property
    def by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(row[1] for row in self.due).items()))


def review_retention(con: duckdb.DuckDBPyConnection, data_dir: Path, apply: bool) -> RetentionReview:
    """Who is past their retention window, reported in ``privacy/retention_review.csv``; with
    ``apply``, their erasure (kind ``retention``: their records are suppressed, not their e-mails
    or phones, so a person who comes back starts afresh). What ``cdp privacy retention`` and the
    ``privacy_retention`` job both do."""
    due = beyond_retention(con)
    report = write_retention_review(due, data_dir)
    erasure = None
    if apply and due:
        subject = Subject(tuple(row[0] for row in due), "retention")
        erasure = erase(con, subject, data_dir, "retention", suppress_identifiers=False)
    return RetentionReview(due, report, erasure)


def beyond_retention(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, object, object]]:
    """(customer id, rule, last activity, retained until) of every customer past their retention
    window (``marts.dim_customer_data_retention``), oldest activity first."""
    return con.execute(
        "select customer_id, retention_rule, last_activity_at, retained_until "
        "from marts.dim_customer_data_retention where is_beyond_retention "
        "order by last_activity_at, customer_id"
    ).fetchall()


def write_retention_review(rows: list[tuple], data_dir: Path) -> Path:
    """The dry run's report, ``privacy/retention_review.csv``: customer ids and dates, no personal
    value; what ``--apply`` would erase."""
    header = ["customer_id", "retention_rule", "last_activity_at", "retained_until"]
    folder = suppression.privacy_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return write_text_atomically(folder / "retention_review.csv", csv_text(header, rows))
