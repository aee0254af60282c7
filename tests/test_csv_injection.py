"""CSV injection: text a customer typed never runs as a formula in the spreadsheet that opens an export."""

import csv
from pathlib import Path

import duckdb

from orchestration.activation.audiences import Audience, write_audience
from orchestration.lib.spreadsheet_safe import csv_text


def test_formula_looking_cells_are_quoted_text() -> None:
    text = csv_text(
        ["NOM", "SMS", "SOLDE", "NOTE", "POINTS"],
        [['=HYPERLINK("http://x.example","click")', "+33 6 12 34 56 78", "-1", "@SUM(A1:A9)", -1]],
        delimiter=";",
    )
    assert text.splitlines()[1] == (
        '"\'=HYPERLINK(""http://x.example"",""click"")";"\'+33 6 12 34 56 78";"\'-1";"\'@SUM(A1:A9)";-1'
    )
    # Read back as CSV: the value is the one delivered, behind one quote; a typed number is untouched.
    (row,) = list(csv.reader(text.splitlines()[1:], delimiter=";"))
    assert row == [
        '\'=HYPERLINK("http://x.example","click")',
        "'+33 6 12 34 56 78",
        "'-1",
        "'@SUM(A1:A9)",
        "-1",
    ]


def test_tab_and_carriage_return_at_the_start_are_neutralised_too() -> None:
    (_, line, _) = csv_text(["A"], [["\tcmd"]]).split("\r\n")
    assert line == '"\'\tcmd"'
    assert csv_text(["A"], [["\r=1+1"]]).startswith('A\r\n"\'\r=1+1"')


def test_an_activation_file_neutralises_a_formula_typed_as_a_name(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        """create table marts.dim_customers as select 'A' as customer_id, 'a@x.fr' as email,
           '=HYPERLINK("http://x.example","click")' as first_name, '@SUM(1)' as last_name,
           'active' as lifecycle_stage, '+Paris' as city"""
    )
    con.execute(
        "create table marts.mart_customer_segments as select 'A' as customer_id, 'active' as lifecycle_stage"
    )
    con.execute(
        """create table marts.dim_customer_consents as select 'A' as customer_id,
           'email' as consent_channel, true as is_granted,
           timestamptz '2026-01-05 10:00:00+00' as last_granted_at"""
    )
    audience = Audience("everyone", "", "email", "true", ("city",))
    path = write_audience(con, audience, tmp_path).path
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[1] == [
        "a@x.fr",
        '\'=HYPERLINK("http://x.example","click")',
        "'@SUM(1)",
        "2026-01-05",
        "'+Paris",
    ]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
