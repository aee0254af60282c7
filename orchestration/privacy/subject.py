"""Find everything the warehouse holds about one person: the data subject of a privacy request.

A person is found by an identifier they give (e-mail, phone, standardised the way identity
resolution standardises them) or by their ``customer_id``; identity resolution then says which
source records are theirs (``identity.customer_source_records``). Their raw rows are those records
(``RECORD_SOURCES``: which raw table and column each identity source comes from) in every version
delivered, plus the rows that belong to those records without carrying an
identity themselves (``CHILDREN``: order and till lines, consent statements, web events of their
account or browser).

Right of access (``access.py``) and erasure both start here, so they always agree on who the
person is.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.identity import RECORD_SOURCES, install_macros
from orchestration.lib.sql import literal

# Raw rows that carry no identity of their own but belong to an identity record of the person:
# table -> [(column, identity source system whose record id it holds)].
CHILDREN: dict[str, list[tuple[str, str]]] = {
    "crm_consents": [("contact_id", "crm_contacts")],
    "pos_ticket_lines": [("num_ticket", "pos_tickets")],
    "ecommerce_order_lines": [("order_id", "ecommerce_orders")],
    "ecommerce_web_events": [("customer_id", "ecommerce_customers")],
}


class SubjectNotFound(LookupError):
    """No customer of the warehouse has this identifier."""


@dataclass(frozen=True)
class Subject:
    """One person as the warehouse knows them: one customer id, or several if identity resolution
    kept apart records the person says are theirs (an e-mail shared by two customers, for instance)."""

    customer_ids: tuple[str, ...]
    found_by: str  # "email", "phone" or "customer_id": never the value itself


def find_subject(
    con: duckdb.DuckDBPyConnection,
    *,
    email: str | None = None,
    phone: str | None = None,
    customer_id: str | None = None,
) -> Subject:
    """The customers holding this identifier; exactly one identifier must be given."""
    given = {k: v for k, v in (("email", email), ("phone", phone), ("customer_id", customer_id)) if v}
    if len(given) != 1:
        raise ValueError("give exactly one of --email, --phone, --customer-id")
    ((kind, value),) = given.items()
    if kind == "customer_id":
        found = con.execute(
            "select distinct customer_id from identity.customer_source_records where customer_id = ?", [value]
        ).fetchall()
    else:
        install_macros(con, temporary=True)
        standardised = con.execute(f"select cdp_std_{kind}(?)", [value]).fetchall()[0][0]
        if standardised is None:
            raise ValueError(f"not a usable {kind}: {value!r} (empty, malformed or a placeholder)")
        found = con.execute(
            f"""
            select distinct bridge.customer_id
            from identity.records
            join identity.customer_source_records as bridge using (unique_id)
            where records.{kind} = ?
            order by 1
            """,
            [standardised],
        ).fetchall()
    if not found:
        raise SubjectNotFound(f"no customer has this {kind}")
    return Subject(tuple(row[0] for row in found), kind)


def create_subject_records(con: duckdb.DuckDBPyConnection, subject: Subject) -> None:
    """Temporary table ``subject_records``: the identity records of the subject's customers."""
    con.execute(
        """
        create or replace temp table subject_records as
        select customer_id, source_system, source_record_id, unique_id, match_method, match_confidence
        from identity.customer_source_records
        where list_contains(?::varchar[], customer_id)
        """,
        [list(subject.customer_ids)],
    )


def record_links() -> dict[str, list[tuple[str, str]]]:
    """Raw table -> [(column, identity source system)]: every column holding the id of a source
    record, the record's own (``RECORD_SOURCES``) or the one a row belongs to (``CHILDREN``). What
    finding, suppressing and erasing a person's rows all walk."""
    links: dict[str, list[tuple[str, str]]] = {}
    for source, (table, column) in RECORD_SOURCES.items():
        links.setdefault(table, []).append((column, source))
    for table, children in CHILDREN.items():
        links.setdefault(table, []).extend(children)
    return {table: list(dict.fromkeys(pairs)) for table, pairs in links.items()}


def raw_row_filters() -> dict[str, str]:
    """For each raw table, the SQL condition selecting the subject's rows (needs ``subject_records``)."""
    return {
        table: " or ".join(
            f'"{column}"::varchar in (select source_record_id from subject_records '
            f"where source_system = '{source}')"
            for column, source in links
        )
        for table, links in record_links().items()
    }


# A quarantined line could not be typed, so its columns are unknown: it is read as fields (split at
# any delimiter or quote a landing file uses) and the e-mail addresses inside it.
LINE_FIELDS = "string_split_regex(raw_text, '[,;|\t\"]')"
EMAIL_IN_TEXT = r"[^\s,;\"'<>|]+@[^\s,;\"'<>|]+"


def line_emails() -> str:
    """SQL list of the e-mail addresses inside ``raw_text``, as typed."""
    return f"regexp_extract_all(raw_text, {literal(EMAIL_IN_TEXT)})"


def source_tables_sql() -> str:
    """VALUES rows (source system, raw table) of every table a source's record ids appear in."""
    pairs = {(source, table) for table, links in record_links().items() for _, source in links}
    return ", ".join(f"('{source}', '{table}')" for source, table in sorted(pairs))


def create_subject_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Temporary table ``subject_lines(line_rowid, table_name, file_sha256)``: the subject's lines in
    ``raw.quarantine_rows`` (needs ``subject_records``): a line holding one of their record ids as a
    whole field of a table where such ids appear, or one of their e-mails (standardised)."""
    install_macros(con, temporary=True)
    con.execute(
        f"""
        create or replace temp table subject_lines as
        select rowid as line_rowid, table_name, file_sha256
        from raw.quarantine_rows
        where exists (
                select 1
                from unnest({LINE_FIELDS}) as field(value)
                join subject_records as s on s.source_record_id = trim(field.value)
                join (values {source_tables_sql()}) as t(source_system, table_name) using (source_system)
                where t.table_name = quarantine_rows.table_name
            )
           or exists (
                select 1
                from unnest({line_emails()}) as found(email)
                join identity.records as r on r.email = cdp_std_email(found.email)
                where r.unique_id in (select unique_id from subject_records)
            )
        """
    )
