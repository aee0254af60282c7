"""Deliveries that used to be mishandled: CR-only line breaks, a NUL byte, the wrong delimiter, a
transaction dated 1900. Each ends read completely, or quarantined row by row (or, for the
delimiter, file by file) with a reason that names the file, the line and the problem; and every
file's counts reconcile: rows read = rows loaded + rows quarantined.

Every file is written by the test, byte by byte, from records it keeps to compare with what loads.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from orchestration.exports import ALL_TABLES, ExportTable, ecommerce, pos
from orchestration.exports.spec import Column, CsvFormat
from orchestration.ingest import files
from orchestration.ingest.casting import NUL_BYTE
from orchestration.settings import Settings
from tests.test_ingest import POS_HEADER, load, pos_ticket, scalar, write
from tests.test_ingest_faults import WEB_HEADER, log_row, reconciled, web_order

CSV_TABLES = [t for t in ALL_TABLES if t.format.kind == "csv"]
WHEN = datetime(2026, 1, 5, 10, 11, 12)
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r", "mixed": None}


def _value(column: Column, spec: ExportTable, i: int) -> str:
    """A valid text value of ``column`` in the export's format, distinct per record ``i``."""
    fmt = spec.format
    assert isinstance(fmt, CsvFormat)
    if column.values:
        return column.values[0]
    match column.type:
        case "integer":
            return str(i)
        case "decimal":
            return f"{i},50" if fmt.decimal_comma else f"{i}.50"
        case "date":
            return WHEN.strftime(fmt.date_format)
        case "timestamp" | "timestamptz":
            return (
                WHEN.strftime(fmt.timestamp_format) if fmt.timestamp_format else WHEN.isoformat() + "+01:00"
            )
        case "boolean":
            return "true"
    return f"{column.name}-{i}"


def records(spec: ExportTable, n: int = 4) -> list[list[str]]:
    """``n`` records of ``spec``; every second one has a line break (and a delimiter and a quote)
    inside its first free-text column, so it must be quoted and spans lines."""
    rows = []
    text_columns = [c for c in spec.columns if c.type == "varchar" and not c.values]
    for i in range(1, n + 1):
        row = [_value(c, spec, i) for c in spec.columns]
        if i % 2 == 0 and text_columns:
            at = spec.columns.index(text_columns[-1])
            row[at] = f'first line {i}\nsecond{spec.format.delimiter} "quoted"'
        rows.append(row)
    return rows


def csv_bytes(spec: ExportTable, rows: list[list[str]], ending: str) -> bytes:
    """The file as a tool writes it: header and records each ended by ``ending`` (``mixed``: LF,
    CRLF and CR in turn); line breaks inside quoted values stay LF, as spreadsheets write them."""
    fmt = spec.format
    assert isinstance(fmt, CsvFormat)
    text = ""
    for i, row in enumerate([spec.column_names, *rows]):
        line = io.StringIO()
        csv.writer(line, delimiter=fmt.delimiter, lineterminator="").writerow(row)
        text += line.getvalue() + (LINE_ENDINGS[ending] or ("\n", "\r\n", "\r")[i % 3])
    return text.encode(fmt.encoding)


@pytest.mark.parametrize("ending", list(LINE_ENDINGS))
@pytest.mark.parametrize("spec", CSV_TABLES, ids=[t.table for t in CSV_TABLES])
def test_every_line_ending_reads_every_record_as_written(
    settings: Settings, con, spec: ExportTable, ending: str
) -> None:
    rows = records(spec)
    name = spec.pattern.replace("*", "_2026-01")
    (settings.landing_dir / spec.source).mkdir(parents=True, exist_ok=True)
    (settings.landing_dir / spec.source / name).write_bytes(csv_bytes(spec, rows, ending))
    (f,) = load(con, settings, spec).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == (
        "loaded",
        len(rows),
        len(rows),
        0,
    ), f
    text = [c.name for c in spec.columns if c.type == "varchar"]
    loaded = con.execute(f"select {', '.join(text)} from raw.{spec.table} order by _source_line").fetchall()
    written = [tuple(r[spec.column_names.index(c)] or None for c in text) for r in rows]
    assert loaded == written
    # The same lineage whatever the style: each record at the line it starts on (the header is
    # line 1; a record with a line break inside a value spans two lines).
    starts = [2 + sum(1 + sum(v.count("\n") for v in r) for r in rows[:i]) for i in range(len(rows))]
    assert con.execute(f"select _source_line from raw.{spec.table} order by 1").fetchall() == [
        (n,) for n in starts
    ]
    reconciled(con)


@pytest.mark.parametrize("ending", ["CR", "CRLF", "mixed"])
def test_line_breaks_split_across_read_chunks_read_the_same(
    settings: Settings, con, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """The decoding pass reads a file in chunks: with chunks of a few bytes, a CR ends one chunk
    and its LF (or the next line) starts the next, everywhere in the file."""
    monkeypatch.setattr(files, "CHUNK_BYTES", 7)
    rows = records(pos.TICKETS, 6)
    write_bytes = settings.landing_dir / "pos" / "tickets_2026-01.csv"
    write_bytes.parent.mkdir(parents=True)
    write_bytes.write_bytes(csv_bytes(pos.TICKETS, rows, ending))
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.status, f.rows_read, f.rows_loaded) == ("loaded", 6, 6), f
    assert scalar(con, "select count(distinct num_ticket) from raw.pos_tickets") == 6
    reconciled(con)


@pytest.mark.parametrize("chunk", [files.CHUNK_BYTES, 7], ids=["one-chunk", "7-byte-chunks"])
@pytest.mark.parametrize("ending", ["\n", "\r"], ids=["LF", "CR"])
def test_a_cr_only_file_quarantined_whole_counts_every_line(
    settings: Settings, con, monkeypatch: pytest.MonkeyPatch, ending: str, chunk: int
) -> None:
    """A file that cannot be decoded is quarantined whole, every line counted as a quarantined
    row: with CR-only line breaks, as many rows and the same line as with LF (counting LF only,
    a CR-only file reported one row for all its lines)."""
    monkeypatch.setattr(files, "CHUNK_BYTES", chunk)
    lines = [WEB_HEADER, web_order("W1"), web_order("W2"), web_order("W3", currency="EU\xe8")]
    path = settings.landing_dir / "ecommerce" / "orders_2026-01.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes((ending.join(lines) + ending).encode("latin-1"))  # declared UTF-8
    (f,) = load(con, settings, ecommerce.ORDERS).files
    assert (f.status, f.rows_read, f.rows_quarantined) == ("quarantined", 3, 3), f
    assert "not valid UTF-8 at line 4" in (f.error or "")
    reconciled(con)


def test_a_nul_byte_quarantines_its_line_and_the_others_load(settings: Settings, con) -> None:
    lines = [POS_HEADER, pos_ticket("T1"), pos_ticket("T2", nom_client="Du\x00pont"), pos_ticket("T3")]
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", "\n".join(lines) + "\n", "cp1252")
    order = "\n".join([WEB_HEADER, web_order("W1"), web_order("W2").replace("home", "ho\x00me"), ""])
    write(settings.landing_dir / "ecommerce" / "orders_2026-01.csv", order)
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 3, 2, 1), f
    assert "NUL byte" in (f.note or "")
    assert con.execute("select num_ticket from raw.pos_tickets order by 1").fetchall() == [("T1",), ("T3",)]
    (o,) = load(con, settings, ecommerce.ORDERS).files
    assert (o.status, o.rows_read, o.rows_loaded, o.rows_quarantined) == ("loaded", 2, 1, 1), o
    quarantined = con.execute(
        "select table_name, file_path, line_number, reason from raw.quarantine_rows order by 1"
    ).fetchall()
    assert [(t, p, n) for t, p, n, _ in quarantined] == [
        ("ecommerce_orders", "ecommerce/orders_2026-01.csv", 3),
        ("pos_tickets", "pos/tickets_2026-01.csv", 3),
    ]
    assert all(e.startswith("a NUL byte (0x00) in this line") for *_, e in quarantined)
    reconciled(con)


def test_a_binary_file_is_still_quarantined_whole(settings: Settings, con) -> None:
    path = settings.landing_dir / "pos" / "tickets_2026-01.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(POS_HEADER.encode() + b"\n" + b"\x00\x00\x00\xff" * 500)
    (f,) = load(con, settings, pos.TICKETS).files
    assert f.status == "quarantined" and "binary data" in (f.error or ""), f
    reconciled(con)


def test_a_till_file_delimited_by_comma_says_so(settings: Settings, con) -> None:
    lines = [POS_HEADER.replace(";", ","), pos_ticket("T1").replace(";", ",").replace("12,50", "12.50")]
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", "\n".join(lines) + "\n", "cp1252")
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.status, f.rows_read, f.rows_quarantined) == ("quarantined", 1, 1)
    assert f.error is not None and f.error.startswith("pos/tickets_2026-01.csv: missing required column(s)")
    assert f.error.endswith(
        "the header splits on ',' into the expected columns: this file looks comma-delimited; "
        "the spec expects ';'"
    )
    assert log_row(con, "pos/tickets_2026-01.csv")["error"] == f.error
    # A header that is simply wrong gets no such guess.
    write(settings.landing_dir / "pos" / "tickets_2026-02.csv", "a,b;c\n1,2;3\n", "cp1252")
    (_, g) = load(con, settings, pos.TICKETS).files
    assert g.status == "quarantined" and "delimited" not in (g.error or "")
    reconciled(con)


@pytest.mark.parametrize(("delimiter", "shown", "looks"), [("\t", "\\t", "tab"), ("|", "|", "pipe")])
def test_a_web_file_delimited_otherwise_says_which(
    settings: Settings, con, delimiter: str, shown: str, looks: str
) -> None:
    lines = [WEB_HEADER.replace(",", delimiter), web_order("W1").replace(",", delimiter)]
    write(settings.landing_dir / "ecommerce" / "orders_2026-01.csv", "\n".join(lines) + "\n")
    (f,) = load(con, settings, ecommerce.ORDERS).files
    assert (f.status, f.rows_read, f.rows_quarantined) == ("quarantined", 1, 1)
    assert (f.error or "").endswith(
        f"the header splits on '{shown}' into the expected columns: this file looks {looks}-delimited; "
        "the spec expects ','"
    )
    reconciled(con)


def test_a_nul_byte_in_an_ndjson_line_quarantines_that_line(settings: Settings, con) -> None:
    event = (
        '{"event_id": "%s", "event_type": "page_view", "event_at": "2026-01-05T10:00:00+01:00", '
        '"visitor_id": "V", "session_id": "S"}'
    )
    body = "\n".join([event % "E1", event % "E\x002", event % "E3", ""])
    write(settings.landing_dir / "ecommerce" / "web_events_2026-01.ndjson", body)
    (f,) = load(con, settings, ecommerce.WEB_EVENTS).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 3, 2, 1), f
    ((line, reason),) = con.execute("select line_number, reason from raw.quarantine_rows").fetchall()
    assert line == 2
    # The NUL first: it is why the line is not valid JSON either.
    assert reason == f"{NUL_BYTE}; not a JSON object"
    reconciled(con)


def test_a_transaction_dated_before_1990_is_quarantined_with_its_value(settings: Settings, con) -> None:
    lines = [
        POS_HEADER,
        pos_ticket("T1", when="05/01/1900 10:00:00"),
        pos_ticket("T2", date_naissance_client="01/01/1900"),  # a birth date: not a transaction
        pos_ticket("T3", when="31/12/1989 23:59:00"),
        pos_ticket("T4", when="01/01/1990 00:00:00"),
    ]
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", "\n".join(lines) + "\n", "cp1252")
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 4, 2, 2), f
    assert con.execute("select num_ticket from raw.pos_tickets order by 1").fetchall() == [("T2",), ("T4",)]
    too_early = "is before 1990-01-01, the earliest plausible date of pos transactions"
    errors = con.execute("select line_number, reason from raw.quarantine_rows order by 1").fetchall()
    assert errors == [
        (
            2,
            f"date_heure: '05/01/1900 10:00:00' {too_early}",
        ),
        (
            4,
            f"date_heure: '31/12/1989 23:59:00' {too_early}",
        ),
    ]
    reconciled(con)


def test_the_earliest_date_is_set_per_source(
    settings: Settings, con, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDP_EARLIEST_DATE_ECOMMERCE", "2026-01-06")
    order = "\n".join([WEB_HEADER, web_order("W1"), web_order("W2").replace("2026-01-05", "2026-01-07"), ""])
    write(settings.landing_dir / "ecommerce" / "orders_2026-01.csv", order)
    write(
        settings.landing_dir / "pos" / "tickets_2026-01.csv",
        "\n".join([POS_HEADER, pos_ticket("T1"), ""]),
        "cp1252",
    )
    (o,) = load(con, settings, ecommerce.ORDERS).files
    assert (o.rows_read, o.rows_loaded, o.rows_quarantined) == (2, 1, 1)
    assert scalar(con, "select order_id from raw.ecommerce_orders") == "W2"
    (t,) = load(con, settings, pos.TICKETS).files  # the other sources keep 1990-01-01
    assert (t.rows_read, t.rows_loaded) == (1, 1)
    reconciled(con)
