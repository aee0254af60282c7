"""Right of access (RGPD art. 15): everything held about one person, as JSON and a readable page.

``cdp privacy export --email X --out FILE.json`` writes ``FILE.json`` and ``FILE.html``: the
source records as delivered (every version, with the file and line each came from), the lines of
theirs that could not be loaded (quarantined, with the reason), the golden record, consents with
their provenance, interactions, survey answers, and the identity links that joined the records
into one customer with the rule or score behind each. The files hold the person's personal data
in clear: hand them to the person, do not publish them.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.lib.atomic import write_text_atomically
from orchestration.privacy.subject import (
    Subject,
    create_subject_lines,
    create_subject_records,
    raw_row_filters,
)
from orchestration.warehouse import table_exists

# Marts about the person, by customer_id: (section, table, order).
MART_SECTIONS = (
    ("golden_record", "marts.dim_customers", "customer_id"),
    ("consents", "marts.dim_customer_consents", "customer_id, consent_channel"),
    ("interactions", "marts.fct_touchpoints", "customer_id, occurred_at, touchpoint_id"),
    ("survey_answers", "marts.fct_survey_responses", "customer_id, submitted_at, response_id"),
)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    result = con.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def collect(con: duckdb.DuckDBPyConnection, subject: Subject) -> dict[str, Any]:
    """What the warehouse holds about ``subject``, section by section."""
    create_subject_records(con, subject)
    ids = list(subject.customer_ids)
    report: dict[str, Any] = {
        "request": {
            "kind": "access",
            "found_by": subject.found_by,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "customer_ids": ids,
        }
    }
    for section, table, order in MART_SECTIONS:
        if table_exists(con, *table.split(".")):  # before the first dbt build there are no marts yet
            report[section] = _rows(
                con,
                f"select * from {table} where list_contains(?::varchar[], customer_id) order by {order}",
                [ids],
            )
    report["identity_records"] = _rows(
        con,
        """
        select subject.customer_id, subject.source_system, subject.source_record_id,
               subject.match_method, subject.match_confidence
        from subject_records as subject
        order by all
        """,
    )
    # Why the records are one customer: every link between two of them, with its rule or score.
    report["identity_links"] = _rows(
        con,
        """
        select edges.unique_id_l as record, edges.unique_id_r as linked_record, edges.method,
               edges.match_probability, edges.match_weight, edges.guard
        from identity.edges
        where edges.unique_id_l in (select unique_id from subject_records)
          and edges.unique_id_r in (select unique_id from subject_records)
        order by all
        """,
    )
    report["source_records"] = {
        table: rows
        for table, condition in sorted(raw_row_filters().items())
        if (
            rows := _rows(
                con, f"select * from raw.{table} where {condition} order by _loaded_at, _source_line"
            )
        )
    }
    # Lines of theirs that could not be loaded (kept as text with the reason, in quarantine).
    create_subject_lines(con)
    report["quarantined_lines"] = _rows(
        con,
        """
        select table_name, file_path, line_number, raw_text, reason, quarantined_at
        from raw.quarantine_rows
        where rowid in (select line_rowid from subject_lines)
        order by file_path, line_number
        """,
    )
    con.execute("drop table if exists subject_records")
    con.execute("drop table if exists subject_lines")
    return report


def write_export(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """``out`` (JSON) and the same name with ``.html``, each written atomically."""
    text = json.dumps(report, indent=2, ensure_ascii=False, default=str)
    page = out.with_suffix(".html")
    out.parent.mkdir(parents=True, exist_ok=True)
    # Personal data in clear: readable by its owner only.
    return write_text_atomically(out, text + "\n", 0o600), write_text_atomically(
        page, render_html(report), 0o600
    )


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page (no script, no external file) with one table per section."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Personal data held: access request</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}"
        "th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}"
        "th{background:#f3f3f3}",
        "</style></head><body><h1>Personal data held about you</h1>",
        f"<p>Generated {_cell(report['request']['generated_at'])}; customer id(s): "
        f"{_cell(', '.join(report['request']['customer_ids']))}.</p>",
    ]
    titles = {
        "golden_record": "Your customer profile (golden record)",
        "consents": "Your marketing consents and where they come from",
        "identity_records": "Records of yours in our systems",
        "identity_links": "Why these records were recognised as the same person",
        "interactions": "Your interactions (purchases, visits, service contacts, surveys)",
        "survey_answers": "Your survey answers",
        "quarantined_lines": "Lines of yours that a system delivered but we could not read (kept aside)",
    }
    for section, title in titles.items():
        if section in report:
            parts += [f"<h2>{html.escape(title)}</h2>", _table(report[section])]
    parts.append("<h2>Source records, as delivered by each system (file and line)</h2>")
    for table, rows in report["source_records"].items():
        parts += [f"<h3>{html.escape(table)}</h3>", _table(rows)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(name)}</th>" for name in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row.values()) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    return "" if value is None else html.escape(str(value))
