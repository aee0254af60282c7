"""A retailer maps their own export columns and formats with a mapping file alone (sources.yml),
and previews a file with ``cdp inspect`` without writing anything."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.exports import MappingError, ecommerce, effective_table, effective_tables
from orchestration.ingest.loader import load_table
from orchestration.settings import Settings
from tests.test_ingest import scalar, write

SHOP_EXPORT = (
    "Customer ID;First Name;Last Name;Email;Phone;Default Address Zip;Accepts Email Marketing;"
    "Created At;Total Spent\n"
    "9001;Zoé;Lefèvre;zoe@example.fr;+33 6 12 34 56 78;75011;yes;05/01/2026 10:11;12,50\n"
    "9002;Marc;Petit;;06 11 22 33 44;69002;no;06/01/2026 09:00;0,00\n"  # phone-only account
    "9003;Ana;Ruiz;ana@example.fr;;13001;no;31/02/2026 09:00;1,00\n"  # impossible date
)
MAPPING = """\
ecommerce_customers:
  pattern: "customers_export*.csv"
  format:
    delimiter: ";"
    date_format: "%d/%m/%Y"
    timestamp_format: "%d/%m/%Y %H:%M"
  columns:
    customer_id: "Customer ID"
    first_name: "First Name"
    last_name: "Last Name"
    email: "Email"
    zip: "Default Address Zip"
    accepts_email_marketing: "Accepts Email Marketing"
    created_at: "Created At"
"""


def test_an_export_with_other_column_names_loads_through_a_mapping_file_alone(
    settings: Settings, con
) -> None:
    (settings.data_dir / "sources.yml").write_text(MAPPING, encoding="utf-8")
    write(settings.landing_dir / "ecommerce" / "customers_export_2026-01.csv", SHOP_EXPORT)
    spec = effective_table(ecommerce.CUSTOMERS, settings.data_dir)
    (f,) = load_table(con, spec, settings.landing_dir, settings.quarantine_dir, log=lambda _: None).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 3, 2, 1)
    assert f.drift_columns == ["total spent"]
    rows = con.execute(
        "select customer_id, first_name, email, phone, zip, accepts_email_marketing, "
        "strftime(created_at at time zone 'UTC', '%Y-%m-%d %H:%M') from raw.ecommerce_customers order by 1"
    ).fetchall()
    assert rows == [
        ("9001", "Zoé", "zoe@example.fr", "+33 6 12 34 56 78", "75011", True, "2026-01-05 10:11"),
        ("9002", "Marc", None, "06 11 22 33 44", "69002", False, "2026-01-06 09:00"),
    ]
    assert "created_at: cannot read '31/02/2026 09:00'" in scalar(
        con, "select reason from raw.quarantine_rows"
    )
    # The mapping's pattern comes first; the contract's own stays (pattern: adds).
    assert [t.patterns for t in effective_tables(settings.data_dir) if t.table == "ecommerce_customers"] == [
        ("customers_export*.csv", "customers_*.csv")
    ]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("ecommerce_clients: {}\n", "unknown table 'ecommerce_clients'"),
        (
            "ecommerce_customers:\n  columns:\n    mail: Email\n",
            "ecommerce_customers.columns.mail: not a column",
        ),
        ("ecommerce_customers:\n  format:\n    decimal: ';'\n", "ecommerce_customers.format.decimal"),
        ("ecommerce_customers:\n  required: [email]\n", "the key column 'customer_id' must stay required"),
        ("ecommerce_web_events:\n  format:\n    delimiter: ';'\n", "only CSV exports take a format"),
        ("ecommerce_customers:\n  colums: {}\n", "unknown key(s) ['colums']"),
    ],
)
def test_a_bad_mapping_file_names_the_file_and_the_key(
    settings: Settings, mapping: str, message: str
) -> None:
    path = settings.data_dir / "sources.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mapping, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        effective_tables(settings.data_dir)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_cdp_inspect_previews_a_file_without_writing_anything(settings: Settings) -> None:
    (settings.data_dir / "sources.yml").write_text(MAPPING, encoding="utf-8")
    path = write(settings.landing_dir / "ecommerce" / "customers_export_2026-01.csv", SHOP_EXPORT)
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "raw.ecommerce_customers" in result.output
    assert "rows: 3 read = 2 would load + 1 quarantined" in result.output
    assert "would quarantine line 4: created_at: cannot read '31/02/2026 09:00'" in result.output
    assert "total spent" in result.output
    assert "9001 |" in result.output and "zoe@example.fr" not in result.output  # PII left out
    assert not settings.warehouse_path.exists() and not settings.quarantine_dir.exists()


def test_a_mapping_pattern_adds_to_the_contract_unless_it_replaces_it(settings: Settings, con) -> None:
    path = settings.data_dir / "sources.yml"
    path.write_text('ecommerce_customers:\n  pattern: "shopify_*.csv"\n', encoding="utf-8")
    header = "customer_id,created_at\n"
    write(settings.landing_dir / "ecommerce" / "customers_2026-01.csv", header + "C1,2026-01-05T10:00:00Z\n")
    write(settings.landing_dir / "ecommerce" / "shopify_2026-01.csv", header + "S1,2026-01-05T10:00:00Z\n")
    spec = effective_table(ecommerce.CUSTOMERS, settings.data_dir)
    loaded = load_table(con, spec, settings.landing_dir, settings.quarantine_dir, log=lambda _: None)
    assert sorted(f.file for f in loaded.files if f.status == "loaded") == [
        "ecommerce/customers_2026-01.csv",
        "ecommerce/shopify_2026-01.csv",
    ]
    path.write_text('ecommerce_customers:\n  pattern: "shopify_*.csv"\n  replace_patterns: true\n')
    assert effective_table(ecommerce.CUSTOMERS, settings.data_dir).patterns == ("shopify_*.csv",)


def test_spreadsheet_apostrophes_are_stripped_with_a_note_unless_turned_off(settings: Settings, con) -> None:
    text = "customer_id,phone,first_name,created_at\n'7210448301100,'+33612345678,'Jo,2026-01-05T10:00:00Z\n"
    write(settings.landing_dir / "ecommerce" / "customers_2026-01.csv", text)
    (f,) = load_table(
        con, ecommerce.CUSTOMERS, settings.landing_dir, settings.quarantine_dir, log=print
    ).files
    assert con.execute("select customer_id, phone, first_name from raw.ecommerce_customers").fetchall() == [
        ("7210448301100", "+33612345678", "'Jo")  # only before digits or +: a name keeps its apostrophe
    ]
    assert "apostrophe (spreadsheet text protection) removed from 1 customer_id, 1 phone" in f.note
    assert "removed from" in scalar(con, "select note from raw.load_log")
    (settings.data_dir / "sources.yml").write_text("ecommerce_customers:\n  strip_apostrophes: false\n")
    kept = effective_table(ecommerce.CUSTOMERS, settings.data_dir)
    write(settings.landing_dir / "ecommerce" / "customers_2026-02.csv", text.replace("'72", "'82"))
    load_table(con, kept, settings.landing_dir, settings.quarantine_dir, log=lambda _: None)
    assert scalar(con, "select phone from raw.ecommerce_customers where _source_file like '%02.csv'") == (
        "'+33612345678"
    )


def test_inspect_runs_the_blocking_checks_of_the_mapping_and_accepts_any_name_with_table(
    settings: Settings,
) -> None:
    # required: [customer_id] in the mapping: an empty created_at is no blocking check any more.
    (settings.data_dir / "sources.yml").write_text(
        "ecommerce_customers:\n  columns:\n    zip: Postcode\n  required: [customer_id]\n", encoding="utf-8"
    )
    odd = write(
        settings.data_dir / "elsewhere" / "export from shop.csv", "customer_id,created_at\nC1,\nC2,\n"
    )
    result = CliRunner().invoke(app, ["inspect", "--table", "ecommerce_customers", str(odd)])
    assert result.exit_code == 0, result.output
    assert "rows: 2 read = 2 would load + 0 quarantined" in result.output
    assert "(a run stops on these): 3 of 3 would pass" in result.output
    assert "created_at_not_null" not in result.output
    assert "zip                          MISSING: mapped to 'Postcode'" in result.output
