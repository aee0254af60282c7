"""Line-exact lineage on the loader's fast paths: files large enough for DuckDB to read them in
parallel blocks, line breaks of every kind, blank lines, and rows quarantined on the one-read path.

Every record written here carries its own line number in its key, so a row whose ``_source_line``
is off by one anywhere in the file is found.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.exports import ecommerce, pos
from orchestration.settings import Settings
from tests.test_ingest import POS_HEADER, _ConnectionProxy, load, pos_ticket, scalar, write

# Enough bytes for DuckDB's reader to split the file across threads (blocks of a few MB).
BIG_LINES = 120_000


def _event(line: int, **extra: str) -> str:
    return json.dumps(
        {
            "event_id": f"e{line}",
            "event_type": "page_view",
            "event_at": "2026-01-05T10:00:00+01:00",
            "visitor_id": f"v{line % 97}",
            "session_id": f"s{line // 10}",
            "page_url": f"/p/{line}" + "x" * 60,
            **extra,
        }
    )


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_every_line_number_of_a_large_ndjson_file_is_exact(settings: Settings, con, newline: str) -> None:
    """Blank and whitespace-only lines, an object after leading blanks: numbers hold throughout."""
    lines = []
    for n in range(1, BIG_LINES + 1):
        if n % 1000 == 0:
            lines.append("")  # a blank line: not a record, still a line
        elif n % 1777 == 0:
            lines.append("   ")
        elif n % 2500 == 0:
            lines.append("  " + _event(n))
        else:
            lines.append(_event(n))
    write(settings.landing_dir / "ecommerce" / "web_events_2026-01.ndjson", newline.join(lines) + newline)
    (f,) = load(con, settings, ecommerce.WEB_EVENTS).files
    blanks = sum(1 for line in lines if not line.strip())
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == (
        "loaded",
        BIG_LINES - blanks,
        BIG_LINES - blanks,
        0,
    )
    off = scalar(
        con,
        "select count(*) from raw.ecommerce_web_events where _source_line <> substr(event_id, 2)::bigint",
    )
    assert off == 0
    assert scalar(con, "select max(_source_line) from raw.ecommerce_web_events") == BIG_LINES - 1


def test_every_line_number_of_a_large_csv_file_is_exact_and_bad_rows_keep_their_text(
    settings: Settings, con
) -> None:
    """A Windows-1252 CRLF till export read in one pass; the rows that do not type are quarantined
    with their exact line and text (read again from the lines only because some are bad)."""
    lines = [POS_HEADER]
    bad = {}
    for n in range(2, BIG_LINES + 2):
        if n % 5000 == 0:
            lines.append(pos_ticket(f"T{n}", amount="12.50"))  # a decimal point: quarantined
            bad[n] = lines[-1]
        else:
            lines.append(pos_ticket(f"T{n}", nom_client="Lefèvre"))
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", "\r\n".join(lines) + "\r\n", "cp1252")
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (BIG_LINES, BIG_LINES - len(bad), len(bad))
    off = scalar(
        con, "select count(*) from raw.pos_tickets where _source_line <> substr(num_ticket, 2)::bigint"
    )
    assert off == 0
    assert scalar(con, "select count(*) from raw.pos_tickets where nom_client <> 'Lefèvre'") == 0
    quarantined = {
        line: (text, reason)
        for line, text, reason in con.execute(
            "select line_number, raw_text, reason from raw.quarantine_rows"
        ).fetchall()
    }
    assert sorted(quarantined) == sorted(bad)
    for line, (text, reason) in quarantined.items():
        assert text == bad[line]
        assert reason == "montant_ttc: cannot read '12.50' as decimal with a decimal comma"


def test_a_csv_file_with_blank_lines_takes_the_exact_path_and_keeps_its_numbers(
    settings: Settings, con
) -> None:
    """The one-read path proves one line per record by counting; a blank line breaks the count, the
    writes are rolled back and the exact path loads the file once, numbers right."""
    lines = [POS_HEADER, pos_ticket("T2"), "", pos_ticket("T4"), pos_ticket("T5", amount="x"), ""]
    lines += [pos_ticket("T7")]
    write(settings.landing_dir / "pos" / "tickets_2026-01.csv", "\n".join(lines) + "\n", "cp1252")
    (f,) = load(con, settings, pos.TICKETS).files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (4, 3, 1)
    assert con.execute("select num_ticket, _source_line from raw.pos_tickets order by 2").fetchall() == [
        ("T2", 2),
        ("T4", 4),
        ("T7", 7),
    ]
    assert con.execute("select line_number, raw_text from raw.quarantine_rows").fetchall() == [(5, lines[4])]
    assert scalar(con, "select count(*) from raw.load_log") == 1


def test_a_line_holding_the_splitters_delimiter_is_read_by_the_slow_splitter(settings: Settings, con) -> None:
    """U+0001 is the delimiter of the fast line splitter: a file containing it is split otherwise."""
    lines = [_event(1), _event(2) + "\x01", _event(3)]
    write(settings.landing_dir / "ecommerce" / "web_events_2026-01.ndjson", "\n".join(lines) + "\n")
    (f,) = load(con, settings, ecommerce.WEB_EVENTS).files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (3, 2, 1)
    assert con.execute(
        "select event_id, _source_line from raw.ecommerce_web_events order by 2"
    ).fetchall() == [
        ("e1", 1),
        ("e3", 3),
    ]
    assert con.execute("select line_number, raw_text, reason from raw.quarantine_rows").fetchall() == [
        (2, lines[1], "not a JSON object")
    ]


def test_loading_leaves_the_connections_optimizer_settings_as_they_were(settings: Settings, con) -> None:
    write(settings.landing_dir / "ecommerce" / "web_events_2026-01.ndjson", _event(1) + "\n")
    con.execute("set disabled_optimizers = 'join_order'")
    assert load(con, settings, ecommerce.WEB_EVENTS).rows_loaded == 1
    assert scalar(con, "select current_setting('disabled_optimizers')") == "join_order"


def test_fingerprints_made_ahead_leave_no_scratch_copy_behind(settings: Settings, con) -> None:
    """The next file is hashed and transcoded while the current one loads; whether the load ends
    normally or by a crash, no transcoded copy stays in the scratch folder."""
    for month in ("01", "02", "03"):
        write(
            settings.landing_dir / "pos" / f"tickets_2026-{month}.csv",
            f"{POS_HEADER}\r\n{pos_ticket('T' + month, nom_client='Zoé')}\r\n",
            "cp1252",
        )
    scratch = settings.quarantine_dir.parent / "tmp" / "ingest"
    real_execute = duckdb.DuckDBPyConnection.execute

    def crashing(con_, sql, *args, **kwargs):
        if "insert into raw.pos_tickets" in sql:
            raise RuntimeError("power cut")
        return real_execute(con_, sql, *args, **kwargs)

    with pytest.raises(RuntimeError, match="power cut"):
        load(_ConnectionProxy(con, crashing), settings, pos.TICKETS)
    assert list(scratch.iterdir()) == []
    result = load(con, settings, pos.TICKETS)
    assert [(f.file, f.rows_loaded) for f in result.files] == [
        ("pos/tickets_2026-01.csv", 1),
        ("pos/tickets_2026-02.csv", 1),
        ("pos/tickets_2026-03.csv", 1),
    ]
    assert list(scratch.iterdir()) == []
    assert scalar(con, "select list(nom_client) from raw.pos_tickets") == ["Zoé"] * 3
