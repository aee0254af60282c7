"""A new user's first hour, scripted with the real command line: sample data, a Shopify export
through a mapping file, `cdp inspect` saying exactly what the run then does, a bad delivery that
stops the run, `cdp unload`, and a run that succeeds."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from tests.test_cli import cdp

MAPPING = """\
ecommerce_customers:
  pattern: "shopify_customers*.csv"   # added to customers_*.csv, which keeps loading
  columns:
    customer_id: "Customer ID"
    first_name: "First Name"
    last_name: "Last Name"
    email: "Email"
    phone: "Phone"
    zip: "Default Address Zip"        # not in this export: a warning, not silence
    created_at: "Created At"
  required: [customer_id]
"""
# Shopify protects identifiers and phones with a leading apostrophe; Created At may be empty.
SHOPIFY = (
    "Customer ID,First Name,Last Name,Email,Phone,Created At\n"
    "'7210448301100,Zoé,Lefèvre,zoe@example.fr,'+33612345678,2026-10-02T10:11:00Z\n"
    "'7210448301101,Marc,Petit,marc@example.fr,'0611223344,\n"
    "'7210448301102,Ana,Ruiz,,'+33698765432,2026-10-03T09:00:00Z\n"
)
# A delivery whose third record is dated in 2099: the run's blocking check stops on it.
BAD = (
    "customer_id,email,first_name,last_name,created_at\n"
    "W-BAD-1,a@example.fr,Anne,Martin,2026-10-20T08:00:00Z\n"
    "W-BAD-2,b@example.fr,Bruno,Roux,2026-10-21T08:00:00Z\n"
    "W-BAD-3,c@example.fr,Chloé,Faure,2099-10-22T08:00:00Z\n"
)


def _blocking_failures(output: str) -> set[str]:
    """Names of the blocking checks a command says fail (inspect: would fail; run: failed)."""
    return set(re.findall(r"would FAIL blocking check (\w+)", output)) | set(
        re.findall(r"check failed \(critical\): raw/\w+:(\w+)", output)
    )


def _load_log(data: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(data / "warehouse" / "cdp.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select file_path, status, rows_read, rows_loaded, rows_quarantined, note, retired_by "
            "from raw.load_log where file_path like 'ecommerce/%customers%'"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def test_the_first_hour_from_sample_data_to_a_bad_delivery_undone(tmp_path: Path) -> None:
    data = tmp_path / "cdp"
    gen = cdp("generate", "--customers", "60", "--days", "30", "--history-days", "30", data_dir=data)
    assert gen.returncode == 0, gen.stderr
    landing = data / "landing" / "ecommerce"
    usual = sorted(p.name for p in landing.glob("customers_*.csv"))
    assert usual, "the sample writes the retailer's usual customers_*.csv files"
    (data / "sources.yml").write_text(MAPPING, encoding="utf-8")
    shopify = landing / "shopify_customers_2026-10.csv"
    shopify.write_text(SHOPIFY, encoding="utf-8")

    # inspect says: everything loads, the missing mapped column named, no blocking check fails.
    seen = cdp("inspect", str(shopify), data_dir=data)
    assert seen.returncode == 0, seen.stdout + seen.stderr
    assert "rows: 3 read = 3 would load + 0 quarantined" in seen.stdout
    assert (
        "leading apostrophe (spreadsheet text protection) removed from 3 customer_id, 3 phone" in seen.stdout
    )
    assert "column 'zip' is mapped to 'Default Address Zip' in sources.yml, which is not in" in seen.stdout
    assert (
        "blocking checks of raw.ecommerce_customers (a run stops on these): 3 of 3 would pass" in seen.stdout
    )

    # A bad delivery: inspect names the check, the file, the line and the value.
    bad = landing / "customers_2026-10-late.csv"
    bad.write_text(BAD, encoding="utf-8")
    warned = cdp("inspect", str(bad), data_dir=data)
    assert warned.returncode == 1
    assert "rows: 3 read = 3 would load + 0 quarantined" in warned.stdout
    assert _blocking_failures(warned.stdout) == {"created_at_not_in_future"}
    where = "at landing/ecommerce/customers_2026-10-late.csv line 4"  # after the value
    assert where in warned.stdout and "e.g. 2099-10-22 08:00:00" in warned.stdout

    # The run does what inspect said: same counts, and it stops on the same check, same place.
    failed = cdp("run", data_dir=data)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert _blocking_failures(failed.stderr) == {"created_at_not_in_future"}
    assert where in failed.stderr and "e.g. 2099-10-22 08:00:00" in failed.stderr
    log = _load_log(data)
    assert log["ecommerce/shopify_customers_2026-10.csv"][:4] == ("loaded", 3, 3, 0)
    assert log["ecommerce/customers_2026-10-late.csv"][:4] == ("loaded", 3, 3, 0)
    assert "zip" in log["ecommerce/shopify_customers_2026-10.csv"][4]  # the warning, in the load log
    assert all(log[f"ecommerce/{name}"][0] == "loaded" for name in usual)  # pattern: added, not replaced

    # Undo the bad delivery; the next run succeeds and holds none of its rows.
    undone = cdp("unload", "ecommerce/customers_2026-10-late.csv", "--by", "first-hour", data_dir=data)
    assert undone.returncode == 0, undone.stderr
    assert "3 rows of raw.ecommerce_customers" in undone.stdout
    fixed = cdp("run", data_dir=data)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "retired" in _load_log(data)["ecommerce/customers_2026-10-late.csv"][0]
    con = duckdb.connect(str(data / "warehouse" / "cdp.duckdb"), read_only=True)
    try:
        assert con.execute(
            "select count(*) from raw.ecommerce_customers where customer_id like 'W-BAD-%'"
        ).fetchall() == [(0,)]
        assert con.execute(
            "select count(*) from raw.ecommerce_customers "
            "where customer_id = '7210448301100' and phone = '+33612345678'"
        ).fetchall() == [(1,)]
    finally:
        con.close()
