"""`cdp unload FILE`: a delivered file's rows out of raw, kept in the load log as retired, and the
next run's change detection sees rows removed (identity and dbt incremental models rebuilt)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.exports import ecommerce
from orchestration.ingest.loader import load_table
from orchestration.ingest.unload import UnloadError, unload
from orchestration.runtime.changes import raw_state, tables_with_rows_removed
from orchestration.settings import Settings
from tests.conftest import query, run_job
from tests.test_ingest import scalar, write

HEADER = "customer_id,created_at\n"


def _load(con, settings: Settings):
    return load_table(
        con, ecommerce.CUSTOMERS, settings.landing_dir, settings.quarantine_dir, log=lambda _: None
    )


def test_unload_retires_a_file_and_a_corrected_one_takes_its_place(settings: Settings, con) -> None:
    good = write(
        settings.landing_dir / "ecommerce" / "customers_2026-01.csv", HEADER + "C1,2026-01-05T10:00:00Z\n"
    )
    bad = write(
        settings.landing_dir / "ecommerce" / "customers_2026-02.csv",
        HEADER + "B1,2026-02-05T10:00:00Z\nB2,not a time\n",
    )
    _load(con, settings)
    before = raw_state(con, ["ecommerce_customers"])
    done = unload(con, bad, settings.landing_dir, "alice")
    assert (done.rows, done.quarantine_rows, done.versions) == ({"raw.ecommerce_customers": 1}, 1, 1)
    assert con.execute("select customer_id from raw.ecommerce_customers").fetchall() == [("C1",)]
    assert scalar(con, "select count(*) from raw.quarantine_rows") == 0
    assert con.execute(
        "select status, retired_by, retired_at is not null from raw.load_log where file_path = ?",
        ["ecommerce/customers_2026-02.csv"],
    ).fetchall() == [("retired", "alice", True)]
    assert tables_with_rows_removed(before, raw_state(con, ["ecommerce_customers"])) == [
        "raw.ecommerce_customers"
    ]
    # Still in landing/: not read again, and the run says why.
    again = {f.file: f for f in _load(con, settings).files}
    assert again["ecommerce/customers_2026-02.csv"].note == "retired (cdp unload): not loaded again"
    # The corrected file, same name, as many rows: loads, and a retired file still counts as removed.
    settled = raw_state(con, ["ecommerce_customers"])
    write(bad, HEADER + "B1,2026-02-05T10:00:00Z\nB2,2026-02-06T10:00:00Z\n")
    _load(con, settings)
    assert scalar(con, "select count(*) from raw.ecommerce_customers") == 3
    assert tables_with_rows_removed(before, raw_state(con, ["ecommerce_customers"])) == [
        "raw.ecommerce_customers"
    ]
    assert tables_with_rows_removed(settled, raw_state(con, ["ecommerce_customers"])) == []
    assert good.exists()


def test_a_loaded_file_gone_from_landing_is_reported_and_can_be_unloaded(settings: Settings, con) -> None:
    gone = write(
        settings.landing_dir / "ecommerce" / "customers_2026-01.csv", HEADER + "C1,2026-01-05T10:00:00Z\n"
    )
    _load(con, settings)
    gone.unlink()
    (removed,) = _load(con, settings).removed
    assert removed[:2] == ("ecommerce/customers_2026-01.csv", 1)
    with pytest.raises(UnloadError, match=r"did you mean ecommerce/customers_2026-01\.csv"):
        unload(con, "customers_2026-01.csv", settings.landing_dir, "bob")
    unload(con, "landing/ecommerce/customers_2026-01.csv", settings.landing_dir, "bob")
    assert _load(con, settings).removed == []
    assert scalar(con, "select count(*) from raw.ecommerce_customers") == 0


def test_cdp_unload_names_what_it_took_out(settings: Settings, con) -> None:
    write(settings.landing_dir / "ecommerce" / "customers_2026-01.csv", HEADER + "C1,2026-01-05T10:00:00Z\n")
    _load(con, settings)
    con.close()
    result = CliRunner().invoke(app, ["unload", "ecommerce/customers_2026-01.csv", "--by", "carol"])
    assert result.exit_code == 0, result.output
    assert "retired ecommerce/customers_2026-01.csv: 1 rows of raw.ecommerce_customers" in result.output
    unknown = CliRunner().invoke(app, ["unload", "ecommerce/nothing.csv"])
    assert unknown.exit_code == 2 and "no loaded file of that name" in unknown.output


def test_the_unload_job_does_the_same_from_the_dagster_ui(settings: Settings, con) -> None:
    write(settings.landing_dir / "ecommerce" / "customers_2026-01.csv", HEADER + "C1,2026-01-05T10:00:00Z\n")
    _load(con, settings)
    con.close()
    config = {"ops": {"unload_file": {"config": {"file": "ecommerce/customers_2026-01.csv", "by": "dana"}}}}
    assert run_job("unload", settings, run_config=config).success
    assert query(settings, "select status, retired_by from raw.load_log") == [("retired", "dana")]
    assert query(settings, "select count(*) from raw.ecommerce_customers") == [(0,)]
