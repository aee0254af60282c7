"""The identity KPI range (job ``identity_kpi_range``, ``cdp identity range``): the headline KPIs with
every record clustered at a stricter and a looser match threshold, built by the project's own dbt
models, beside the published ones.

An end of the range at the published threshold must give the published KPIs exactly: the looser
end is set to the match threshold itself, so the whole chain (clustering again, the variant's dbt
build deferring to the warehouse's models, reading the KPIs) is compared with the marts. The
stricter end (0.999, which splits customers on the test data) shows the variant's customers flow
through the build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.defs.common import IDENTITY_KPI_RANGE_KEY
from orchestration.identity import SHIPPED_CONFIG
from orchestration.serving import impact
from orchestration.serving.kpi_range import RANGE_TABLE, read_last
from orchestration.serving.report import write_report
from orchestration.settings import Settings, get_settings


@pytest.fixture
def looser_end_at_the_threshold(
    copied: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The pipeline's data folder, copied, with the range from the match threshold to 0.999."""
    text = SHIPPED_CONFIG.read_text()
    for old, new in (("looser_match_probability: 0.2", "looser_match_probability: 0.5"),
                     ("stricter_match_probability: 0.9", "stricter_match_probability: 0.999")):  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "identity.yml").write_text(text)
    shutil.copy(SHIPPED_CONFIG.parent / "first_name_variants.csv", tmp_path / "first_name_variants.csv")
    monkeypatch.setenv("CDP_IDENTITY_CONFIG", str(tmp_path / "identity.yml"))
    return get_settings()


def _snapshot(path: Path) -> dict[str, list[tuple]]:
    """What the range must leave as it was: the headline marts, a fact, and the changes each
    customer-grain model has applied (a variant build recording its own would hide later ones)."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [f"marts.{m}" for m in ("dim_customers", "mart_retention", "mart_multichannel_customers")]
        tables += ["marts.fct_orders", "dbt_state.customer_changes_applied"]
        return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr) for t in tables}


def test_the_range_gives_the_published_kpis_at_the_published_threshold(
    looser_end_at_the_threshold: Settings,
) -> None:
    settings = looser_end_at_the_threshold
    before = _snapshot(settings.warehouse_path)
    result = CliRunner().invoke(app, ["identity", "range"])
    assert result.exit_code == 0, result.output
    assert "Identity KPI range, period " in result.output
    kpi_range = read_last(settings.serving_dir)
    assert kpi_range is not None and kpi_range.period is not None
    assert kpi_range.thresholds == {"stricter": 0.999, "published": 0.5, "looser": 0.5}
    assert set(kpi_range.values) == set(impact.KPIS)
    with duckdb.connect() as con:
        con.execute(f"attach '{settings.published_marts_path}' as pub (read_only)")
        for kpi, (mart, column) in impact.KPIS.items():
            by = kpi_range.values[kpi]
            # As published: what BI tools read for that period.
            assert by["published"] == impact.kpi_value(con, "pub.main", mart, column, kpi_range.period), kpi
            # Clustered again at the threshold and built again by dbt: the same figure.
            assert by["looser"] == pytest.approx(by["published"], abs=1e-12), kpi
    # A stricter threshold merges less: more customers.
    customers = kpi_range.values["customers"]
    assert customers["stricter"] > customers["published"]
    # The warehouse is as it was (nothing the daily build reads moved) and the variants are gone.
    assert _snapshot(settings.warehouse_path) == before
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        left = con.execute(
            "select schema_name from duckdb_schemas() where starts_with(schema_name, 'identity_range_')"
        ).fetchall()
        tables = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'identity_range'"
        ).fetchall()
        rows = con.execute(f"select variant, count(*) from {RANGE_TABLE} group by all order by 1").fetchall()
    assert left == [] and tables == [("kpi_range",)]
    assert rows == [(v, len(impact.KPIS)) for v in ("looser", "published", "stricter")]
    # The KPI report shows the range beside the identity figures.
    report = write_report(settings.published_marts_path, settings.quality_dir, settings.report_dir)
    html = report.path.read_text(encoding="utf-8")
    assert "How much the headline depends on identity" in html and "stricter (p ≥ 0.999)" in html


def test_the_daily_pipeline_leaves_the_range_to_its_own_job(pipeline: tuple) -> None:
    _, result = pipeline
    built = {event.asset_key for event in result.get_asset_materialization_events()}
    assert dg.AssetKey(["serving", "marts"]) in built and IDENTITY_KPI_RANGE_KEY not in built
