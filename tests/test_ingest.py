"""The raw layer: every export loads with lineage; bad input is quarantined and nothing is lost."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.exports import ALL_TABLES, crm, ecommerce, pos, survey
from orchestration.ingest import loader
from orchestration.ingest.loader import load_table
from orchestration.settings import Settings
from tests.conftest import Generated

POS_HEADER = ";".join(c.upper() for c in pos.TICKETS.column_names)


def load(con: duckdb.DuckDBPyConnection, settings: Settings, spec) -> loader.TableResult:
    return load_table(con, spec, settings.landing_dir, settings.quarantine_dir, log=lambda _: None)


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()[0][0]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def pos_ticket(num: str, amount: str = "12,50", when: str = "05/01/2026 10:11:12", **kw: str) -> str:
    values = {c: "" for c in pos.TICKETS.column_names}
    values.update(
        num_ticket=num,
        code_magasin="M001",
        num_caisse="1",
        date_heure=when,
        type_ticket="VENTE",
        montant_ttc=amount,
        mode_reglement="CB",
    )
    values.update(kw)
    return ";".join(values[c] for c in pos.TICKETS.column_names)


def test_every_generated_export_loads_completely(landed: Settings, con, generated: Generated) -> None:
    for spec in ALL_TABLES:
        result = load(con, landed, spec)
        assert result.count("quarantined") == 0, [f.error for f in result.files]
        assert result.rows_quarantined == 0
        assert result.rows_loaded == generated.stats.rows[spec.table], spec.table
        assert scalar(con, f"select count(*) from raw.{spec.table}") == generated.stats.rows[spec.table]
        # lineage on every row
        missing = scalar(
            con,
            f"select count(*) from raw.{spec.table} where _source_file is null or _source_line is null "
            "or _file_sha256 is null or _loaded_at is null",
        )
        assert missing == 0
    # typed values read from the French POS format
    amount, when = con.execute(
        "select montant_ttc, date_heure from raw.pos_tickets order by _source_file, _source_line limit 1"
    ).fetchall()[0]
    assert amount > 0 and when.year in (2026, 2025)
    # per-file counts in the load log reconcile
    assert (
        scalar(con, "select count(*) from raw.load_log where rows_read <> rows_loaded + rows_quarantined")
        == 0
    )


def test_line_numbers_point_at_the_record_even_after_multiline_verbatims(landed: Settings, con) -> None:
    load(con, landed, survey.RESPONSES)
    rows = con.execute("select _source_file, _source_line, response_id from raw.survey_responses").fetchall()
    assert any(
        "\n" in (v or "") for (v,) in con.execute("select verbatim from raw.survey_responses").fetchall()
    )
    for source_file, line, response_id in rows:
        lines = (landed.landing_dir / source_file).read_text(encoding="utf-8-sig").split("\n")
        assert lines[line - 1].startswith(response_id), (source_file, line)


def test_reloading_adds_nothing_and_new_files_are_added(landed: Settings, con) -> None:
    first = load(con, landed, pos.TICKETS)
    count = scalar(con, "select count(*) from raw.pos_tickets")
    again = load(con, landed, pos.TICKETS)
    assert again.rows_loaded == 0 and again.count("skipped") == len(first.files)
    # The same content delivered again under another name is recognised by its checksum.
    src = next((landed.landing_dir / "pos").glob("tickets_*.csv"))
    shutil.copy(src, src.with_name("tickets_resent_copy.csv"))
    resent = load(con, landed, pos.TICKETS)
    assert resent.rows_loaded == 0
    assert any(f.note and "same content" in f.note for f in resent.files)
    # A genuinely new file is loaded.
    write(
        landed.landing_dir / "pos" / "tickets_2099-01.csv", f"{POS_HEADER}\n{pos_ticket('NEW-1')}\n", "cp1252"
    )
    new = load(con, landed, pos.TICKETS)
    assert new.rows_loaded == 1
    assert scalar(con, "select count(*) from raw.pos_tickets") == count + 1


def test_bad_rows_are_quarantined_with_file_line_text_and_reason(settings: Settings, con) -> None:
    lines = [
        POS_HEADER,
        pos_ticket("T1", nom_client="Lefèvre", prenom_client="Zoé"),  # line 2: good, accents in cp1252
        pos_ticket("T2", amount="douze"),  # line 3: not a decimal
        pos_ticket("T3", when="31/02/2026 10:00:00"),  # line 4: impossible date
        pos_ticket("T4") + ";extra",  # line 5: too many fields
        "T5;M001",  # line 6: too few fields
        pos_ticket("", amount="1,00"),  # line 7: required key missing
        "",  # blank line: not a record
        pos_ticket("T6", amount="1 234,50"),  # line 9: good, thousands separator
    ]
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", "\r\n".join(lines) + "\r\n", "cp1252")
    result = load(con, settings, pos.TICKETS)
    (f,) = result.files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 7, 2, 5)
    loaded = con.execute(
        "select num_ticket, montant_ttc, nom_client, prenom_client, _source_line from raw.pos_tickets "
        "order by _source_line"
    ).fetchall()
    assert [(r[0], float(r[1]), r[4]) for r in loaded] == [("T1", 12.5, 2), ("T6", 1234.5, 9)]
    assert loaded[0][2:4] == ("Lefèvre", "Zoé")
    quarantined = {
        line: (text, reason)
        for line, text, reason in con.execute(
            "select line_number, raw_text, reason from raw.quarantine_rows "
            "where file_path = 'pos/tickets_2026-01.csv'"
        ).fetchall()
    }
    assert sorted(quarantined) == [3, 4, 5, 6, 7]
    assert "montant_ttc: cannot read 'douze' as decimal" in quarantined[3][1]
    assert "date_heure: cannot read '31/02/2026 10:00:00' as timestamp" in quarantined[4][1]
    assert "TOO MANY COLUMNS" in quarantined[5][1]
    assert "MISSING COLUMNS" in quarantined[6][1]
    assert quarantined[6][0] == "T5;M001"
    assert "num_ticket: required value missing" in quarantined[7][1]


def test_a_birth_date_that_is_not_a_calendar_date_loads_as_delivered(settings: Settings, con) -> None:
    """A customer's mistyped birth date is evidence, not a reason to lose the ticket: the row loads,
    the typed column is empty, the text stays beside it, and the load log says so."""
    lines = [
        POS_HEADER,
        pos_ticket("T1", date_naissance_client="31/02/1985"),  # line 2: no 31st of February
        pos_ticket("T2", date_naissance_client="12/13/1990"),  # line 3: month 13
        pos_ticket("T3", date_naissance_client="05/06/1979"),  # line 4: a calendar date
        pos_ticket("T4"),  # line 5: none
        pos_ticket("T5", amount="douze", date_naissance_client="00/01/1980"),  # line 6: bad amount
    ]
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", "\r\n".join(lines) + "\r\n", "cp1252")
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 5, 4, 1)
    rows = con.execute(
        "select num_ticket, date_naissance_client::varchar, date_naissance_client_as_delivered "
        "from raw.pos_tickets order by _source_line"
    ).fetchall()
    assert rows == [
        ("T1", None, "31/02/1985"),
        ("T2", None, "12/13/1990"),
        ("T3", "1979-06-05", "05/06/1979"),
        ("T4", None, None),
    ]
    assert "2 date_naissance_client value(s) not a valid date" in f.note
    assert "line 2, '31/02/1985'" in f.note
    assert "montant_ttc: cannot read 'douze'" in scalar(con, "select reason from raw.quarantine_rows")
    assert scalar(con, "select note from raw.load_log") == f.note


def test_a_warehouse_from_before_delivered_texts_gains_the_column_and_keeps_loading(
    settings: Settings, con
) -> None:
    columns = ", ".join(
        f'"{c.name}" {"date" if c.type == "date" else "varchar"}' for c in crm.CONTACTS.columns
    )
    con.execute("create schema raw")
    con.execute(
        f"create table raw.crm_contacts ({columns}, _source_file varchar, _source_line bigint, "
        "_file_sha256 varchar, _loaded_at timestamptz, _extra_columns json)"
    )
    header = ",".join(crm.CONTACTS.column_names)
    row = {c: "" for c in crm.CONTACTS.column_names}
    row.update(contact_id="C1", createdate="2025-01-01T10:00:00Z", date_of_birth="1985-02-30")
    write(
        settings.landing_dir / "crm" / "contacts_initial.csv",
        header + "\n" + ",".join(row[c] for c in crm.CONTACTS.column_names) + "\n",
    )
    (f,) = load(con, settings, crm.CONTACTS).files
    assert (f.status, f.rows_loaded) == ("loaded", 1)
    assert con.execute(
        "select date_of_birth, date_of_birth_as_delivered from raw.crm_contacts"
    ).fetchall() == [(None, "1985-02-30")]


def test_quoted_multiline_fields_and_bad_json_lines(settings: Settings, con) -> None:
    header = ",".join(survey.RESPONSES.column_names)
    text = (
        f"\ufeff{header}\n"
        "R1,S,store_purchase,2026-01-05T10:00:00+01:00,a@b.fr,9,5,,"
        '"Très bien,\nmerci ""vraiment"" ; 😊",,,M001\n'
        "R2,S,store_purchase,2026-01-05T11:00:00+01:00,,11x,5,,,,,M001\n"
        "R3,S,store_purchase,2026-01-06T11:00:00+01:00,,7,4,,,,,M002\n"
    )
    write(settings.landing_dir / "survey" / "responses_2026-01.csv", text)
    (f,) = load(con, settings, survey.RESPONSES).files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (3, 2, 1)
    rows = con.execute(
        "select response_id, verbatim, _source_line from raw.survey_responses order by 1"
    ).fetchall()
    assert rows == [("R1", 'Très bien,\nmerci "vraiment" ; 😊', 2), ("R3", None, 5)]
    assert scalar(con, "select line_number from raw.quarantine_rows") == 4

    events = [
        {
            "event_id": "e1",
            "event_type": "session_start",
            "event_at": "2026-01-05T10:00:00Z",
            "visitor_id": "v1",
            "session_id": "s1",
            "campaign_id": "spring",
        },
        "{not json",
        {
            "event_id": "e2",
            "event_type": "login",
            "event_at": "yesterday",
            "visitor_id": "v1",
            "session_id": "s1",
        },
        {
            "event_id": "e3",
            "event_type": "login",
            "event_at": "2026-01-05T10:01:00+01:00",
            "session_id": "s1",
        },
    ]
    body = "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events) + "\n"
    write(settings.landing_dir / "ecommerce" / "web_events_2026-01.ndjson", body)
    (g,) = load(con, settings, ecommerce.WEB_EVENTS).files
    assert (g.rows_read, g.rows_loaded, g.rows_quarantined) == (4, 1, 3)
    assert g.drift_columns == ["campaign_id"]
    assert scalar(con, "select _extra_columns->>'campaign_id' from raw.ecommerce_web_events") == "spring"
    reasons = dict(
        con.execute(
            "select line_number, reason from raw.quarantine_rows where table_name = 'ecommerce_web_events'"
        ).fetchall()
    )
    assert reasons[2] == "not a JSON object"
    assert "event_at: cannot read 'yesterday' as timestamptz" in reasons[3]
    assert "visitor_id: required value missing" in reasons[4]


@pytest.mark.parametrize(
    ("content", "encoding", "expected_reason"),
    [
        (
            "NUM_TICKET;CODE_MAGASIN\nT1;M001\n",
            "cp1252",
            "missing required column(s) date_heure, type_ticket",
        ),
        ("", "cp1252", "empty file"),
        (
            f"{POS_HEADER}\n{pos_ticket('T1', nom_client='Ab')}\n",
            "bad-byte",
            "not valid Windows-1252 at line 2",
        ),
    ],
    ids=["missing-columns", "empty", "undecodable"],
)
def test_unreadable_files_are_quarantined_whole_and_others_still_load(
    settings: Settings, con, content: str, encoding: str, expected_reason: str
) -> None:
    bad = settings.landing_dir / "pos" / "tickets_2026-01.csv"
    if encoding == "bad-byte":
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_bytes(content.encode("cp1252").replace(b"Ab", b"A\x81"))  # 0x81 is undefined in cp1252
    else:
        write(bad, content, encoding)
    write(
        settings.landing_dir / "pos" / "tickets_2026-02.csv", f"{POS_HEADER}\n{pos_ticket('OK')}\n", "cp1252"
    )
    result = load(con, settings, pos.TICKETS)
    by_file = {f.file: f for f in result.files}
    failed = by_file["pos/tickets_2026-01.csv"]
    assert failed.status == "quarantined"
    assert expected_reason in failed.error and "pos/tickets_2026-01.csv" in failed.error
    assert failed.rows_read == failed.rows_quarantined
    assert by_file["pos/tickets_2026-02.csv"].rows_loaded == 1
    assert scalar(con, "select list(num_ticket) from raw.pos_tickets") == ["OK"]
    status, copy = con.execute(
        "select status, quarantine_copy from raw.load_log where file_path = 'pos/tickets_2026-01.csv'"
    ).fetchall()[0]
    assert status == "quarantined" and Path(copy).read_bytes() == bad.read_bytes()
    # A quarantined file is not retried until it changes; a corrected delivery loads.
    assert load(con, settings, pos.TICKETS).count("quarantined") == 0
    write(bad, f"{POS_HEADER}\n{pos_ticket('FIXED')}\n", "cp1252")
    os.utime(bad, (1, 1))
    assert load(con, settings, pos.TICKETS).rows_loaded == 1


def test_schema_drift_and_column_order_and_case_do_not_matter(settings: Settings, con) -> None:
    header = ["EMAIL", "Contact_ID", "createdate", "shoe_size", "firstname"]
    rows = [["a@b.fr", "1", "2026-01-01T00:00:00Z", "42", "Zoé"]]
    path = settings.landing_dir / "crm" / "contacts_2026-01.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    (f,) = load(con, settings, crm.CONTACTS).files
    assert f.status == "loaded" and f.drift_columns == ["shoe_size"]
    row = con.execute(
        "select contact_id, email, firstname, lastname, _extra_columns->>'shoe_size' from raw.crm_contacts"
    ).fetchall()
    assert row == [("1", "a@b.fr", "Zoé", None, "42")]
    assert scalar(con, "select missing_optional_columns from raw.load_log")[:2] == ["lastname", "phone"]


def test_a_crash_mid_file_leaves_no_partial_load(settings: Settings, con) -> None:
    write(
        settings.landing_dir / "pos" / "tickets_2026-01.csv", f"{POS_HEADER}\n{pos_ticket('T1')}\n", "cp1252"
    )
    real_execute = duckdb.DuckDBPyConnection.execute

    class Boom(Exception):
        pass

    def crashing(con_, sql, *args, **kwargs):
        if "insert into raw.load_log" in sql and "loaded" in (args[0] if args else []):
            raise Boom("power cut")
        return real_execute(con_, sql, *args, **kwargs)

    wrapper = _ConnectionProxy(con, crashing)
    with pytest.raises(Boom):
        load(wrapper, settings, pos.TICKETS)
    assert scalar(con, "select count(*) from raw.pos_tickets") == 0
    assert scalar(con, "select count(*) from raw.load_log") == 0
    assert load(con, settings, pos.TICKETS).rows_loaded == 1
    assert scalar(con, "select count(*) from raw.pos_tickets") == 1


class _ConnectionProxy:
    """A connection whose ``execute`` can be intercepted (DuckDB's own class cannot be patched)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, execute) -> None:
        self._con = con
        self._execute = execute

    def execute(self, sql, *args, **kwargs):
        return self._execute(self._con, sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)
