"""Nothing new, nothing done: a run with no new file and no changed code skips identity, dbt, the
docs and the publication, and says why; a changed dbt project rebuilds with --full-refresh.

On a copy of the session pipeline's data directory (its run recorded every stage's inputs).
"""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.runtime import changes
from orchestration.settings import Settings, get_settings
from tests.conftest import run_job

AFTER_IDENTITY = ("cdp_dbt_models", "serving__marts", "serving__dbt_docs", "serving__kpi_report")


def _steps(result: dg.ExecuteInProcessResult, kind: str) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == kind}


def _materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def test_cdp_run_with_nothing_new_says_so_and_touches_nothing(copied: Settings) -> None:
    warehouse = copied.warehouse_path.stat()
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Nothing to do: no new landing file, and nothing changed since run ")
    assert "identity, dbt, docs and publication skipped" in result.output
    after = copied.warehouse_path.stat()
    assert (after.st_size, after.st_mtime_ns) == (warehouse.st_size, warehouse.st_mtime_ns)
    # No Dagster run was started (the instance folder is not even created).
    assert not copied.dagster_home.exists()


def test_the_daily_schedule_skips_its_tick_with_the_reason(copied: Settings) -> None:
    from orchestration.defs.automation import daily_schedule

    tick = daily_schedule(dg.build_schedule_context())
    assert isinstance(tick, dg.SkipReason)
    assert "nothing changed since run" in tick.skip_message
    # A new file: the tick runs the pipeline.
    new = copied.landing_dir / "crm" / "contacts_2099-02.csv"
    shutil.copyfile(sorted((copied.landing_dir / "crm").glob("contacts_2026-*.csv"))[0], new)
    assert isinstance(daily_schedule(dg.build_schedule_context()), dg.RunRequest)
    assert changes.nothing_to_do(copied) is None


def test_the_job_with_nothing_new_skips_every_step_after_ingestion(copied: Settings) -> None:
    result = run_job("full_pipeline", copied)
    assert result.success
    assert set(AFTER_IDENTITY) <= _steps(result, "STEP_SKIPPED")
    assert not any(k.startswith(("identity/", "marts/", "serving/")) for k in _materialized(result))
    (observed,) = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    reason = observed.asset_observation_data.asset_observation.metadata["skipped"].value
    assert reason.startswith("nothing changed since run ")


def test_a_changed_dbt_project_rebuilds_with_full_refresh_and_regenerates_the_docs(
    copied: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "dbt_project_hash", lambda: "edited-by-an-analyst")
    line = changes.nothing_to_do(copied)
    assert line is None
    instance = dg.DagsterInstance.ephemeral()
    result = run_job("full_pipeline", copied, instance=instance)
    assert result.success
    materialized = _materialized(result)
    # Identity is passed through, not recomputed; dbt, the docs and the publication run.
    identity = materialized["identity/customer_source_records"]
    assert identity["recomputed"].value is False
    assert "dbt project changed" in identity["reason"].value
    assert {"marts/dim_customers", "serving/dbt_docs", "serving/marts"} <= set(materialized)
    logged = [e.user_message for e in instance.all_logs(result.run_id) if e.step_key == "cdp_dbt_models"]
    assert "the dbt project changed since the last build: --full-refresh" in logged
    # The docs reuse what that build compiled: dbt only reads the catalog.
    docs_log = [e.user_message for e in instance.all_logs(result.run_id) if e.step_key == "serving__dbt_docs"]
    assert any(m.startswith("docs from the project compiled by the build") for m in docs_log), docs_log
    # Everything is recorded: the next run has nothing to do.
    assert changes.nothing_to_do(copied) is not None


def test_a_data_folder_moved_elsewhere_holds_the_same_identity_inputs(
    copied: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identity's settings and trained model count by content: restoring the data folder under
    another path must not make the next run resolve every record again for nothing."""
    copied.trained_model_path.parent.mkdir(parents=True, exist_ok=True)
    copied.trained_model_path.write_text('{"trained": "on this warehouse"}')
    with duckdb.connect(str(copied.warehouse_path), read_only=True) as con:
        here = changes.stage_inputs(con, copied)["identity"]
    moved = tmp_path / "restored" / "cdp"
    shutil.copytree(copied.data_dir, moved)
    monkeypatch.setenv("CDP_DATA_DIR", str(moved))
    settings = get_settings()
    assert settings.trained_model_path != copied.trained_model_path
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        there = changes.stage_inputs(con, settings)["identity"]
    assert there == here
