"""Dagster wiring: definitions load, raw assets materialize in-process, the sensor waits for stable files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs import automation
from orchestration.exports import ALL_TABLES
from orchestration.runtime.instance import LocalEventLogStorage, ensure_instance
from orchestration.settings import Settings, get_settings
from tests.conftest import Generated, run_job


def test_definitions_load_with_every_raw_table_grouped_by_source() -> None:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    for spec in ALL_TABLES:
        key = dg.AssetKey(["raw", spec.table])
        assert key in keys
        node = graph.get(key)
        assert node.group_name == spec.source
        assert "duckdb" in node.kinds
        assert node.owners == ["team:data-engineering"]
        assert node.description
    reconcile = {
        c for c in graph.asset_check_keys if c.asset_key.path[0] == "raw" and c.name == "rows_reconcile"
    }
    assert len(reconcile) == len(ALL_TABLES)
    assert defs.resolve_job_def("full_pipeline")
    assert defs.resolve_job_def("ingest_landing_files")
    assert defs.resolve_schedule_def("daily_full_pipeline").cron_schedule == "0 5 * * *"
    assert defs.resolve_sensor_def("landing_sensor")


def test_raw_assets_materialize_with_metadata_and_passing_checks(
    landed: Settings, generated: Generated
) -> None:
    result = run_job("ingest_landing_files", landed)
    assert result.success
    materializations = {
        m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("raw__pos_tickets")
    }
    meta = materializations["pos_tickets"]
    assert meta["rows_loaded"].value == generated.stats.rows["pos_tickets"]
    assert meta["rows_quarantined"].value == 0
    assert meta["dagster/row_count"].value == generated.stats.rows["pos_tickets"]
    assert "•••" in meta["preview"].value or "email_client" in meta["preview"].value
    checks = result.get_asset_check_evaluations()
    assert all(c.passed for c in checks)
    assert sum(c.check_name == "rows_reconcile" for c in checks) == len(ALL_TABLES)
    assert {c.asset_key.path[0] for c in checks} == {"raw"}  # and the raw GX suites


def test_reconciliation_check_fails_when_rows_go_missing(landed: Settings) -> None:
    assert run_job("ingest_landing_files", landed).success
    con = duckdb.connect(str(landed.warehouse_path))
    con.execute("delete from raw.crm_tickets where rowid in (select rowid from raw.crm_tickets limit 3)")
    con.close()
    result = run_job("ingest_landing_files", landed, raise_on_error=False)
    failed = [c for c in result.get_asset_check_evaluations() if not c.passed]
    assert [(c.asset_key.path[-1], c.check_name) for c in failed] == [("crm_tickets", "rows_reconcile")]
    assert "do not reconcile" in failed[0].description


def test_landing_sensor_waits_until_a_file_stops_growing(settings: Settings) -> None:
    instance = dg.DagsterInstance.ephemeral()
    path = settings.landing_dir / "crm" / "tickets_2026-01.csv"
    path.parent.mkdir(parents=True)
    path.write_text("ticket_id,channel\n", encoding="utf-8")
    (settings.landing_dir / "crm" / "notes.txt").write_text("not an export")

    def tick(cursor: str | None):
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        return automation.landing_sensor(context), context.cursor

    first, cursor = tick(None)
    assert isinstance(first, dg.SkipReason)  # seen once: might still be growing
    with path.open("a", encoding="utf-8") as handle:
        handle.write("1,chat\n")
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000))
    second, cursor = tick(cursor)
    assert isinstance(second, dg.SkipReason)  # it grew since the last tick
    third = automation.landing_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(third, dg.SensorResult)
    (request,) = third.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw", "crm_tickets"])]
    cursor = third.cursor
    assert json.loads(cursor)["submitted"]
    fourth, _ = tick(cursor)
    assert isinstance(fourth, dg.SkipReason)  # already submitted: no second run


def test_identity_assets_report_records_customers_methods_and_anonymous_visitors(
    pipeline: tuple, generated: Generated
) -> None:
    landed, result = pipeline
    assert result.success
    materializations = result.asset_materializations_for_node("identity_resolution")
    meta = {m.asset_key.path[-1]: m.metadata for m in materializations}["customer_source_records"]
    con = duckdb.connect(str(landed.warehouse_path), read_only=True)
    customers, records = con.execute(
        "select count(distinct customer_id), count(*) from identity.customer_source_records"
    ).fetchall()[0]
    visitors = con.execute("select count(distinct visitor_id) from raw.ecommerce_web_events").fetchall()[0][0]
    identified = con.execute(
        "select count(*) from identity.records where source_system = 'ecommerce_visitors'"
    ).fetchall()[0][0]
    # True pairs the customer ids leave apart, counted straight from the truth file.
    missed = con.execute(
        """
        with t as (
            select source_system || ':' || source_record_id as unique_id, person_id
            from read_csv(?, all_varchar = true)
        ),
        j as (select * from t join identity.customer_source_records using (unique_id))
        select count(*) from j a join j b
          on a.person_id = b.person_id and a.unique_id < b.unique_id and a.customer_id <> b.customer_id
        """,
        [str(generated.truth / "identities.csv")],
    ).fetchall()[0][0]
    con.close()
    assert meta["records_in"].value == records == generated.stats.identity_records
    assert meta["customers_out"].value == customers
    assert meta["anonymous_visitors"].value == visitors - identified > 0
    assert abs(sum(meta["share_by_method"].value.values()) - 1) < 1e-3
    # Scored against the truth file in CDP_DATA_DIR/truth; misses broken down by what is shared.
    assert meta["accuracy_vs_truth"].value["pairwise_f1"] > 0.9
    # Estimated without the truth file, and kept for the next run's checks.
    estimate = meta["accuracy_estimate"].value
    assert estimate["known_pairs"] > 0
    assert abs(estimate["recall"] - meta["accuracy_vs_truth"].value["pairwise_recall"]) < 0.03
    assert abs(estimate["precision"] - meta["accuracy_vs_truth"].value["pairwise_precision"]) < 0.01
    breakdown = meta["missed_pairs_vs_truth"].value
    assert breakdown["total"] == missed > 0
    assert sum(breakdown[k] for k in ("identifier", "full_name", "surname", "nothing")) == missed


def test_the_event_log_stays_open_and_another_process_follows_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instance's event log keeps its SQLite connections (a run writes ~1,300 events) yet every
    event is in the run's database file itself at once, where the UI (another process) watches it."""
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "cdp"))
    monkeypatch.setenv("DAGSTER_HOME", "")  # restored after the test; ensure_instance sets it
    instance = ensure_instance(get_settings())
    assert isinstance(instance.event_log_storage, LocalEventLogStorage)

    @dg.op
    def talk() -> None:
        for i in range(50):
            dg.get_dagster_logger().info(f"line {i}")

    job = dg.GraphDefinition("talking", node_defs=[talk]).to_job()
    run_id = job.execute_in_process(instance=instance).run_id
    events = len(instance.all_logs(run_id))
    assert events > 50
    # Read the file as it is on disk, ignoring the write-ahead log: what the UI's file watch sees.
    database = tmp_path / "cdp" / "dagster" / "history" / "runs" / f"{run_id}.db"
    on_disk = sqlite3.connect(f"file:{database}?immutable=1", uri=True)
    assert on_disk.execute("select count(*) from event_logs").fetchall() == [(events,)]
    on_disk.close()
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import dagster as dg; print(len(dg.DagsterInstance.get().all_logs('{run_id}')))",
        ],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path / "cdp" / "dagster")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(reader.stdout) == events
    instance.dispose()
