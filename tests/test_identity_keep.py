"""A day with deliveries of identity tables but no new or changed identity record keeps the previous
resolution (``resolution.keep_previous``), and what it keeps is what an incremental pass makes.

The tiny generated population is resolved in full with a model "trained on this warehouse" (the
shipped one, saved where a trained one lives). The day then re-delivers five CRM contacts as they
were, brings a later event of a known visitor and the events of an anonymous one: new raw
deliveries, no identity record new or changed. Two copies of the warehouse go on: one runs the
incremental pass and assigns ids as every run did, the other keeps; their identity tables must
be equal row for row. A day that changes a record is not kept.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.identity import ResolutionConfig, keep_previous, model, resolve
from orchestration.identity.history import record_resolution_run
from orchestration.identity.stable_ids import assign_stable_ids
from orchestration.ingest.loader import load_table
from tests.test_identity_cases import _insert

NEXT_DAY = dt.datetime(2026, 3, 15, 9, 0, tzinfo=dt.UTC)
# After every generated modification: the version read from now on.
LATER = dt.datetime(2027, 1, 2, 9, 0, tzinfo=dt.UTC)
# Every table a run writes that the next run or dbt reads, compared in full.
TABLES = (
    "records", "customer_source_records", "scored_edges", "edges", "clusters", "blocking_keys",
    "deterministic_edges", "flagged_clusters", "attachment_values", "connected_parts",
    "customer_id_history", "customer_registry", "raw_batches", "resolution_runs",
)  # fmt: skip
# When a row was written (now()) and which run wrote it differ between the two copies by nature.
STATE_COLUMNS = "mode, code_version, settings, model_digest, plan, prior, full_resolved_at, stores"


def _config(root: Path) -> ResolutionConfig:
    return ResolutionConfig(trained_model=root / "model.json")


def _run(con: duckdb.DuckDBPyConnection, config: ResolutionConfig, run_id: str):
    result = resolve(con, config, log=lambda _: None)
    assign_stable_ids(con, run_id)
    record_resolution_run(con, run_id)
    return result


def _quiet_day(con: duckdb.DuckDBPyConnection) -> None:
    """Deliveries without a new or changed identity record."""
    con.execute(
        """
        insert into raw.crm_contacts
        select * replace ('crm/contacts_resent.csv' as _source_file, ?::timestamptz as _loaded_at)
        from raw.crm_contacts where contact_id in (select contact_id from raw.crm_contacts order by 1 limit 5)
        """,
        [NEXT_DAY],
    )
    visitor = con.execute(
        "select source_record_id from identity.records where source_system = 'ecommerce_visitors' "
        "order by 1 limit 1"
    ).fetchall()[0][0]
    day = {"_source_file": "ecommerce/web_events_day.ndjson", "_loaded_at": NEXT_DAY, "event_at": NEXT_DAY}
    for row in (
        dict(event_id="XQ1", event_type="product_view", visitor_id=visitor, session_id="XQS1"),
        dict(event_id="XQ2", event_type="session_start", visitor_id="Xanonymous-day", session_id="XQS2"),
    ):
        _insert(con, "ecommerce_web_events", {**row, **day})


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    columns = "* exclude (run_id, resolved_at)" if table == "resolution_runs" else "*"
    return con.execute(f"select {columns} from identity.{table} order by all").fetchall()


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory, generated) -> Path:
    """A warehouse file after a full resolution with a saved model, and the day's deliveries."""
    root = tmp_path_factory.mktemp("keep")
    shutil.copy(model.MODEL_PATH, root / "model.json")
    con = duckdb.connect(str(root / "cdp.duckdb"))
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, root / "quarantine", log=lambda _: None)
    first = _run(con, _config(root), "first")
    assert first.mode == "full"
    _quiet_day(con)
    con.close()
    return root


def _copy(resolved: Path, tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, ResolutionConfig]:
    shutil.copy(resolved / "cdp.duckdb", tmp_path / "cdp.duckdb")
    shutil.copy(resolved / "model.json", tmp_path / "model.json")
    return duckdb.connect(str(tmp_path / "cdp.duckdb")), _config(tmp_path)


def test_a_day_without_identity_change_keeps_exactly_what_an_increment_makes(resolved, tmp_path) -> None:
    (tmp_path / "pass").mkdir()
    (tmp_path / "keep").mkdir()
    passed, passed_config = _copy(resolved, tmp_path / "pass")
    kept, kept_config = _copy(resolved, tmp_path / "keep")

    result = _run(passed, passed_config, "day")
    # The day is what it claims: an incremental pass finds nothing new or changed.
    assert result.mode == "incremental"
    assert result.changed_records == 0

    line = keep_previous(kept, kept_config, log=lambda _: None)
    assert line is not None and "kept the previous resolution" in line
    record_resolution_run(kept, "day")

    for table in TABLES:
        assert _rows(kept, table) == _rows(passed, table), table
    state = f"select {STATE_COLUMNS} from identity.resolution_state"
    assert kept.execute(state).fetchall() == passed.execute(state).fetchall()
    # The day's deliveries count as read: the next day keeps again, with nothing to standardise.
    assert keep_previous(kept, kept_config, log=lambda _: None).startswith(
        "no identity record changed (0 new deliveries"
    )
    passed.close()
    kept.close()


def test_a_day_with_a_changed_record_is_resolved(resolved, tmp_path) -> None:
    con, config = _copy(resolved, tmp_path)
    batches = _rows(con, "raw_batches")
    contact = con.execute("select contact_id from raw.crm_contacts order by 1 limit 1").fetchall()[0][0]
    _insert(
        con,
        "crm_contacts",
        dict(
            contact_id=contact,
            firstname="Lucien",
            lastname="Barbier",
            lastmodifieddate=LATER,
            _loaded_at=LATER,
        ),
    )
    assert keep_previous(con, config, log=lambda _: None) is None
    # Nothing written: the resolution that follows reads the day's deliveries as new.
    assert _rows(con, "raw_batches") == batches
    assert _run(con, config, "day").changed_records == 1
    con.close()


def test_without_a_model_trained_here_the_run_resolves(resolved, tmp_path) -> None:
    con, config = _copy(resolved, tmp_path)
    (tmp_path / "model.json").unlink()
    assert keep_previous(con, config, log=lambda _: None) is None
    con.close()
