"""Bad deliveries a real feed sends: every file ends loaded correctly, quarantined with a reason that
names the problem, or recorded as not loaded, never misread or lost without a ``raw.load_log`` row.

Every file here is written by the test, byte by byte, in the shape a desktop tool or a broken
transfer produces.
"""

from __future__ import annotations

import gzip
import io
import os
import threading
import time
import zipfile

import duckdb
import pytest

from orchestration.exports import ALL_TABLES, crm, ecommerce, pos
from orchestration.ingest.landing import record_unmatched
from orchestration.ingest.loader import load_table
from orchestration.quality.failures import files_not_loaded
from orchestration.settings import Settings
from tests.test_ingest import POS_HEADER, _ConnectionProxy, load, pos_ticket, scalar, write

WEB_HEADER = ",".join(ecommerce.ORDERS.column_names)


def web_order(order_id: str, total: str = "25.00", currency: str = "EUR") -> str:
    values = {c: "" for c in ecommerce.ORDERS.column_names}
    values.update(
        order_id=order_id,
        created_at="2026-01-05T10:00:00+01:00",
        fulfillment_method="home_delivery",
        total=total,
        currency=currency,
    )
    return ",".join(values[c] for c in ecommerce.ORDERS.column_names)


def log_row(con: duckdb.DuckDBPyConnection, rel: str) -> dict:
    cursor = con.execute("select * from raw.load_log where file_path = ?", [rel])
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1, (rel, rows)
    return dict(zip(names, rows[0], strict=True))


def reconciled(con: duckdb.DuckDBPyConnection) -> None:
    """Every logged file: rows read = loaded + quarantined, in the log and in the tables."""
    assert (
        scalar(con, "select count(*) from raw.load_log where rows_read <> rows_loaded + rows_quarantined")
        == 0
    )


@pytest.mark.parametrize(
    ("newline", "note"),
    [("\n", None), ("\r\n", None), ("\r", "CR (old Mac) line breaks"), ("mixed", "mixed CR / LF / CRLF")],
    ids=["LF", "CRLF", "CR", "mixed"],
)
def test_every_line_ending_reads_the_same_rows(
    settings: Settings, con, newline: str, note: str | None
) -> None:
    lines = [POS_HEADER, pos_ticket("T1", nom_client="Lefèvre"), pos_ticket("T2"), pos_ticket("T3")]
    if newline == "mixed":
        text = lines[0] + "\r\n" + lines[1] + "\n" + lines[2] + "\r" + lines[3] + "\r\n"
    else:
        text = newline.join(lines) + newline
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", text, "cp1252")
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.status, f.rows_read, f.rows_loaded) == ("loaded", 3, 3)
    rows = con.execute(
        "select num_ticket, _source_line, nom_client from raw.pos_tickets order by 2"
    ).fetchall()
    assert rows == [("T1", 2, "Lefèvre"), ("T2", 3, None), ("T3", 4, None)]
    assert (note in (f.note or "")) if note else not f.note
    reconciled(con)


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "utf-16", "utf-16-be-bom", "cp1252-as-utf8", "gzip"], ids=str
)
def test_other_encodings_and_compression_are_read_correctly_with_a_note(
    settings: Settings, con, encoding: str
) -> None:
    text = f"{POS_HEADER}\r\n{pos_ticket('T1', nom_client='Lefèvre', prenom_client='Zoé')}\r\n"
    path = settings.landing_dir / "pos" / "tickets_2026-01.csv"
    path.parent.mkdir(parents=True)
    expected_note = {
        "utf-8-sig": "UTF-8 byte-order mark: read as UTF-8",
        "utf-16": "UTF-16 LE text with byte-order mark: read as UTF-16",
        "utf-16-be-bom": "UTF-16 BE text with byte-order mark: read as UTF-16",
        "cp1252-as-utf8": "declared Windows-1252 but the bytes are UTF-8",
        "gzip": "gzip archive, decompressed",
    }[encoding]
    if encoding == "utf-16-be-bom":
        path.write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    elif encoding == "cp1252-as-utf8":
        path.write_bytes(text.encode("utf-8"))  # the till file re-saved as UTF-8
    elif encoding == "gzip":
        path = path.with_name("tickets_2026-01.csv.gz")
        path.write_bytes(gzip.compress(text.encode("cp1252")))
    else:
        path.write_bytes(text.encode(encoding))
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.status, f.rows_loaded) == ("loaded", 1), f.error
    assert expected_note in f.note
    assert con.execute("select nom_client, prenom_client, montant_ttc from raw.pos_tickets").fetchall() == [
        ("Lefèvre", "Zoé", 12.5)
    ]
    assert expected_note in log_row(con, path.relative_to(settings.landing_dir).as_posix())["note"]


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (_xlsx(), "Excel workbook (.xlsx), not a text export"),
        (POS_HEADER + "\n", None),  # header only: loads, no rows (control)
        (b"\xff\xfe" + b"\x00\x00" + "x".encode("utf-32-le"), "UTF-32 text, not a text export"),
        ((POS_HEADER + "\n").encode("utf-16-le"), "UTF-16 LE text without byte-order mark"),
        (gzip.compress(b"x")[:12], "gzip archive that cannot be decompressed"),
        (b"%PDF-1.7\n...", "PDF document"),
        ("NUM_TICKET;NOM_CLIENT\nT1;LefÃ¨vre\n".encode(), "text is mojibake"),
    ],
    ids=["xlsx-named-csv", "header-only", "utf-32", "utf-16-no-bom", "broken-gzip", "pdf", "mojibake"],
)
def test_files_that_cannot_be_read_are_quarantined_naming_what_they_are(
    settings: Settings, con, content: bytes | str, reason: str | None
) -> None:
    path = settings.landing_dir / "pos" / "tickets_2026-01.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content.encode("cp1252") if isinstance(content, str) else content)
    write(
        settings.landing_dir / "pos" / "tickets_2026-02.csv", f"{POS_HEADER}\n{pos_ticket('OK')}\n", "cp1252"
    )
    by_file = {f.file: f for f in load(con, settings, pos.TICKETS).files}
    bad = by_file["pos/tickets_2026-01.csv"]
    if reason is None:
        assert bad.status == "loaded" and bad.rows_read == 0
    else:
        assert bad.status == "quarantined" and reason in bad.error, bad.error
        assert "not valid" not in bad.error or "UTF-16" in bad.error
    assert by_file["pos/tickets_2026-02.csv"].rows_loaded == 1
    assert log_row(con, "pos/tickets_2026-01.csv")["status"] == bad.status
    reconciled(con)


def test_files_that_no_export_reads_are_recorded_with_the_reason(settings: Settings, con) -> None:
    landing = settings.landing_dir
    (landing / "pos").mkdir(parents=True)
    (landing / "pos" / "tickets_2026-03.xlsx").write_bytes(_xlsx())
    write(landing / "pos" / "inventaire_2026-03.csv", "a;b\n1;2\n")
    write(landing / "pos" / "~$tickets_2026-03.csv", "lock")
    write(landing / "stock" / "levels.csv", "a\n1\n")
    write(landing / "readme.txt", "hello")
    write(landing / "pos" / "tickets_2026-03.csv", f"{POS_HEADER}\n{pos_ticket('T1')}\n", "cp1252")
    load(con, settings, pos.TICKETS)
    results = {f.file: f for f in record_unmatched(con, landing, ALL_TABLES, run_id="run-1")}
    assert {f: r.status for f, r in results.items()} == {
        "pos/tickets_2026-03.xlsx": "unsupported",
        "pos/inventaire_2026-03.csv": "ignored",
        "pos/~$tickets_2026-03.csv": "ignored",
        "stock/levels.csv": "ignored",
        "readme.txt": "ignored",
    }
    assert "Excel workbook (.xlsx)" in results["pos/tickets_2026-03.xlsx"].error
    assert "tickets_*.csv" in results["pos/tickets_2026-03.xlsx"].error
    assert "matches no export of pos" in results["pos/inventaire_2026-03.csv"].error
    assert "no source system called 'stock'" in results["stock/levels.csv"].error
    assert "temporary" in results["pos/~$tickets_2026-03.csv"].error
    # Every file under landing/ now has exactly one load_log row; a second pass adds none.
    files = {p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file()}
    assert {r[0] for r in con.execute("select file_path from raw.load_log").fetchall()} == files
    assert record_unmatched(con, landing, ALL_TABLES) == []
    # What `cdp run` prints at the end: every file this run looked at and did not load.
    con.close()
    listed = {path: status for status, path, _ in files_not_loaded(settings.warehouse_path, "run-1")}
    assert listed == {f: r.status for f, r in results.items()}


def test_decimal_separators_are_never_guessed(settings: Settings, con) -> None:
    lines = [
        POS_HEADER,
        pos_ticket("T1", amount="12,50"),
        pos_ticket("T2", amount="12.50"),  # decimal point in a decimal-comma export: not 1250
        pos_ticket("T3", amount="1.234,50"),  # thousands dot + decimal comma: unambiguous
        pos_ticket("T4", amount="1 234"),
        pos_ticket("T5", amount="1.2345"),  # a dot that groups no thousands
    ]
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", "\n".join(lines) + "\n", "cp1252")
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.rows_loaded, f.rows_quarantined) == (3, 2)
    amounts = dict(con.execute("select num_ticket, montant_ttc::double from raw.pos_tickets").fetchall())
    assert amounts == {"T1": 12.5, "T3": 1234.5, "T4": 1234.0}
    reasons = dict(con.execute("select line_number, reason from raw.quarantine_rows").fetchall())
    assert "montant_ttc: cannot read '12.50' as decimal with a decimal comma" in reasons[3]
    assert "'1.2345'" in reasons[6]


def test_a_cut_last_line_and_foreign_currencies_and_unknown_codes_are_quarantined(
    settings: Settings, con
) -> None:
    write(
        settings.landing_dir / "pos" / "tickets_2026-01.csv",
        f"{POS_HEADER}\n{pos_ticket('T1', type_ticket='vente')}\n{pos_ticket('T2', amount='12,5')}",
        "cp1252",
    )
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (2, 1, 1)
    assert "possibly truncated" in scalar(con, "select reason from raw.quarantine_rows where line_number = 3")
    assert "last record was quarantined" in f.note
    # lowercase 'vente' is a sale: accepted (staging reads codes case-insensitively)
    assert scalar(con, "select type_ticket from raw.pos_tickets") == "vente"
    write(
        settings.landing_dir / "pos" / "tickets_2026-02.csv",
        f"{POS_HEADER}\n{pos_ticket('T3', type_ticket='AVOIR')}\n",
        "cp1252",
    )
    load(con, settings, pos.TICKETS)
    assert "type_ticket: 'AVOIR' is not one of VENTE, RETOUR" in scalar(
        con, "select reason from raw.quarantine_rows where file_path like '%2026-02%'"
    )
    rows = [WEB_HEADER, web_order("W1"), web_order("W2", currency="usd"), web_order("W3", currency="")]
    write(settings.landing_dir / "ecommerce" / "orders_2026-01.csv", "\n".join(rows) + "\n")
    (g,) = load(con, settings, ecommerce.ORDERS).files
    assert (g.rows_loaded, g.rows_quarantined) == (2, 1)
    assert "currency: 'usd' is not one of EUR" in scalar(
        con, "select reason from raw.quarantine_rows where table_name = 'ecommerce_orders'"
    )
    reconciled(con)


def test_file_names_are_never_read_as_patterns(settings: Settings, con) -> None:
    folder = settings.landing_dir / "pos"
    write(folder / "tickets_2026-01.csv", f"{POS_HEADER}\n{pos_ticket('A1')}\n", "cp1252")
    write(
        folder / "tickets_2026-0[1].csv", f"{POS_HEADER}\n{pos_ticket('B1')}\n{pos_ticket('B2')}\n", "cp1252"
    )
    write(folder / "tickets_*.csv", f"{POS_HEADER}\n{pos_ticket('C1')}\n", "cp1252")
    result = load(con, settings, pos.TICKETS)
    assert {f.file: f.rows_loaded for f in result.files} == {
        "pos/tickets_*.csv": 1,
        "pos/tickets_2026-01.csv": 1,
        "pos/tickets_2026-0[1].csv": 2,
    }
    by_file = dict(
        con.execute(
            "select _source_file, list(num_ticket order by num_ticket) from raw.pos_tickets group by 1"
        ).fetchall()
    )
    assert by_file == {
        "pos/tickets_*.csv": ["C1"],
        "pos/tickets_2026-01.csv": ["A1"],
        "pos/tickets_2026-0[1].csv": ["B1", "B2"],
    }


def test_a_renamed_column_is_read_under_its_contract_name(settings: Settings, con) -> None:
    write(
        settings.landing_dir / "crm" / "contacts_2026-01.csv",
        "Contact ID,E-mail,First Name,Date of Birth,createdate\n"
        "1,a@b.fr,Zoé,1990-02-03,2026-01-01T00:00:00Z\n",
    )
    (f,) = load(con, settings, crm.CONTACTS).files
    assert f.status == "loaded" and f.drift_columns == []
    assert con.execute(
        "select contact_id, email, firstname, date_of_birth::varchar from raw.crm_contacts"
    ).fetchall() == [("1", "a@b.fr", "Zoé", "1990-02-03")]
    assert "column 'e-mail' read as email" in f.note


def test_a_file_that_crashes_the_reader_is_quarantined_and_the_others_load(settings: Settings, con) -> None:
    write(
        settings.landing_dir / "pos" / "tickets_2026-01.csv", f"{POS_HEADER}\n{pos_ticket('T1')}\n", "cp1252"
    )
    write(
        settings.landing_dir / "pos" / "tickets_2026-02.csv", f"{POS_HEADER}\n{pos_ticket('T2')}\n", "cp1252"
    )
    real_execute = duckdb.DuckDBPyConnection.execute
    reads = []

    def crashing(con_, sql, *args, **kwargs):
        # DuckDB's CSV reader failing on the first file (seen: a parser state-machine error).
        if "read_csv(" in sql:
            reads.append(sql)
            if len(reads) == 1:
                raise duckdb.InvalidInputException("CSV Error: the state machine reached an invalid state")
        return real_execute(con_, sql, *args, **kwargs)

    result = load(_ConnectionProxy(con, crashing), settings, pos.TICKETS)
    by_file = {f.file: f for f in result.files}
    assert by_file["pos/tickets_2026-01.csv"].status == "quarantined"
    assert "DuckDB's reader failed on it: InvalidInputException" in by_file["pos/tickets_2026-01.csv"].error
    assert "state machine" in by_file["pos/tickets_2026-01.csv"].error
    assert by_file["pos/tickets_2026-02.csv"].rows_loaded == 1
    reconciled(con)


def test_the_same_content_again_is_logged_as_duplicate_once(settings: Settings, con) -> None:
    body = f"{POS_HEADER}\n{pos_ticket('T1')}\n"
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", body, "cp1252")
    write(settings.landing_dir / "pos" / "tickets_2026-01 (copy).csv", body, "cp1252")
    statuses = {f.file: f.status for f in load(con, settings, pos.TICKETS).files}
    assert statuses == {"pos/tickets_2026-01 (copy).csv": "loaded", "pos/tickets_2026-01.csv": "duplicate"}
    assert {f.status for f in load(con, settings, pos.TICKETS).files} == {"skipped"}
    assert scalar(con, "select count(*) from raw.pos_tickets") == 1
    assert log_row(con, "pos/tickets_2026-01.csv")["note"].startswith("same content as")


def test_a_file_still_being_written_is_left_for_the_next_run(settings: Settings, con) -> None:
    path = settings.landing_dir / "pos" / "tickets_2026-01.csv"
    write(path, f"{POS_HEADER}\n", "cp1252")
    stop = threading.Event()

    def writer() -> None:  # an export tool appending a row every 0.2 s
        n = 0
        while not stop.is_set():
            with path.open("ab") as f:
                f.write((pos_ticket(f"T{n}") + "\n").encode("cp1252"))
            n += 1
            time.sleep(0.2)

    def load_watched():  # the landing rule cdp run applies, with a one-second watch
        return load_table(
            con,
            pos.TICKETS,
            settings.landing_dir,
            settings.quarantine_dir,
            log=lambda _: None,
            settle_seconds=1.0,
        )

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.3)
        result = load_watched()
    finally:
        stop.set()
        thread.join()
    assert [(f.file, f.status) for f in result.files] == [("pos/tickets_2026-01.csv", "growing")]
    assert scalar(con, "select count(*) from raw.load_log") == 0
    os.utime(path, (time.time() - 10, time.time() - 10))  # finished a while ago
    (f,) = load_watched().files
    assert f.status == "loaded" and f.rows_loaded == f.rows_read > 0
