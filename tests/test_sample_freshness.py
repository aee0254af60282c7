"""Freshness on generated sample data is judged at the instant its exports were taken, with no flag.

A sample generated on 2026-11-01 and run a month later would otherwise report every source as
stale: ``cdp run``, ``cdp check`` and the Dagster UI read ``truth/as_of.txt`` by themselves.
"""

from pathlib import Path

import pytest

from orchestration.quality.suites import build_suites
from orchestration.settings import get_quality_settings


def test_sample_data_is_judged_at_its_export_instant_and_the_variable_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CDP_QUALITY_AS_OF", raising=False)
    assert get_quality_settings().as_of is None  # real exports: the real clock
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "as_of.txt").write_text("2026-11-01T00:00:00Z\n", encoding="utf-8")
    assert get_quality_settings().as_of == "2026-11-01T00:00:00Z"
    fresh = next(s for s in build_suites(get_quality_settings()) if s.asset_key == ("raw", "pos_tickets"))
    assert "'2026-11-01T00:00:00Z'::timestamptz) / 60.0" in fresh.query  # not now()
    monkeypatch.setenv("CDP_QUALITY_AS_OF", "2026-12-01T00:00:00Z")
    assert get_quality_settings().as_of == "2026-12-01T00:00:00Z"
