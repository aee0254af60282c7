"""The landing sensor asks ``raw.load_log`` which files are new: opening the Dagster UI on a
warehouse that ``cdp run`` loaded starts nothing; a file delivered afterwards starts its table."""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.defs import automation
from orchestration.exports import ALL_TABLES
from orchestration.settings import Settings
from orchestration.warehouse.raw import ensure_raw_schema, log_file

CONTACTS = next(t for t in ALL_TABLES if t.table == "crm_contacts")


def tick(
    instance: dg.DagsterInstance, cursor: str | None
) -> tuple[dg.SensorResult | dg.SkipReason, str | None]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    return automation.landing_sensor(context), context.cursor


def test_loaded_files_do_not_start_a_run_and_a_new_file_does(settings: Settings) -> None:
    crm = settings.landing_dir / "crm"
    crm.mkdir()
    loaded = crm / "contacts_2026-10.csv"
    loaded.write_text("contact_id,email\n1,a@x.fr\n", encoding="utf-8")
    # What the loader writes for the file it read (raw.load_log, same size and modification time).
    settings.warehouse_path.parent.mkdir(parents=True)
    con = duckdb.connect(str(settings.warehouse_path))
    ensure_raw_schema(con, CONTACTS)
    stat = loaded.stat()
    log_file(
        con,
        table_name="crm_contacts",
        file_path="crm/contacts_2026-10.csv",
        file_sha256="0" * 64,
        file_size=stat.st_size,
        file_mtime=stat.st_mtime,
        status="loaded",
        run_id="cdp-run",
    )
    con.close()
    instance = dg.DagsterInstance.ephemeral()
    first, cursor = tick(instance, None)
    second, cursor = tick(instance, cursor)
    assert isinstance(first, dg.SkipReason) and isinstance(second, dg.SkipReason)  # nothing new, ever

    (crm / "contacts_2026-11.csv").write_text("contact_id,email\n2,b@x.fr\n", encoding="utf-8")
    waiting, cursor = tick(instance, cursor)
    assert isinstance(waiting, dg.SkipReason)  # seen once: might still be growing
    started, _ = tick(instance, cursor)
    assert isinstance(started, dg.SensorResult)
    (request,) = started.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw", "crm_contacts"])]
    assert request.tags["cdp/new_files"] == "1"  # the new file only, not the loaded one


def test_a_warehouse_being_written_is_asked_again_at_the_next_tick(settings: Settings) -> None:
    (settings.landing_dir / "crm").mkdir()
    (settings.landing_dir / "crm" / "contacts_2026-11.csv").write_text("contact_id\n1\n", encoding="utf-8")
    settings.warehouse_path.parent.mkdir(parents=True)
    writer = duckdb.connect(str(settings.warehouse_path))  # a run holds the file
    try:
        skipped, _ = tick(dg.DagsterInstance.ephemeral(), None)
    finally:
        writer.close()
    assert isinstance(skipped, dg.SkipReason) and "being written" in (skipped.skip_message or "")
