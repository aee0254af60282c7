"""The merge-impact preview (``serving.impact``): a run whose customer ids change more than
``CDP_IDENTITY_IMPACT_LIMIT`` of the published customers leaves the publication as it was and says
why; ``cdp identity approve`` publishes it; the preview's KPI deltas are the difference of the two
publications.

A model change is made the way a user makes one: a stricter match threshold in the identity settings
file (``CDP_IDENTITY_CONFIG``), which splits customers the previous resolution had merged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.identity import SHIPPED_CONFIG
from orchestration.serving import impact
from orchestration.settings import Settings, get_settings


@pytest.fixture
def stricter(copied: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The pipeline's data folder, copied, under identity settings with a stricter threshold."""
    settings_file = tmp_path / "identity.yml"
    text = SHIPPED_CONFIG.read_text()
    assert "match_probability: 0.5" in text
    settings_file.write_text(text.replace("match_probability: 0.5", "match_probability: 0.999"))
    variants = SHIPPED_CONFIG.parent / "first_name_variants.csv"  # read beside the settings file
    shutil.copy(variants, tmp_path / variants.name)
    monkeypatch.setenv("CDP_IDENTITY_CONFIG", str(settings_file))
    return get_settings()


def _published_kpis(path: Path, period: str) -> dict[str, float | None]:
    with duckdb.connect() as con:
        con.execute(f"attach '{path}' as pub (read_only)")
        values = {}
        for name, (mart, column) in impact.KPIS.items():
            if column is None:
                values[name] = float(con.execute(f"select count(*) from pub.{mart}").fetchall()[0][0])
            else:
                sql = f"select {column} from pub.{mart} where period_start = ?::date"
                values[name] = con.execute(sql, [period]).fetchall()[0][0]
        return values


def test_a_model_change_above_the_limit_waits_for_approval_and_approval_publishes(stricter: Settings) -> None:
    copied = stricter
    published = copied.published_marts_path
    before_bytes = published.read_bytes()
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 1, result.output
    # The run says why, and the publication is the previous one, byte for byte.
    assert "check failed (critical): serving/identity_impact:within_limit_or_approved" in result.output
    assert "waits for approval (`cdp identity approve`" in result.output
    assert published.read_bytes() == before_bytes
    with duckdb.connect(str(copied.warehouse_path), read_only=True) as con:
        held = impact.preview(con, published)
    assert held.share_changed > copied.identity_impact_limit and held.split > 0
    before = _published_kpis(published, held.period)

    approved = CliRunner().invoke(app, ["identity", "approve", "--why", "stricter threshold", "--by", "ana"])
    assert approved.exit_code == 0, approved.output
    assert "Approved: " in approved.output and published.read_bytes() != before_bytes
    after = _published_kpis(published, held.period)
    # The KPI report of the new publication says what it changed.
    report = (copied.report_dir / "index.html").read_text()
    assert f"Against the previous publication: {held.customers_changed:,} of " in report
    for name, (was, will_be, delta) in held.kpis.items():
        assert (was, will_be) == pytest.approx((before[name], after[name])), name
        assert delta == pytest.approx(after[name] - before[name]), name
    with duckdb.connect(str(copied.warehouse_path), read_only=True) as con:
        (who,) = con.execute("select approved_by from serving_state.identity_impact_approvals").fetchall()[0]
        # Published: the preview of the next run compares with what was approved, and finds nothing.
        assert impact.preview(con, published).customers_changed == 0
    assert who == "ana"
