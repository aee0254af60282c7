"""Shared fixtures: a temporary CDP_DATA_DIR per test and one tiny generated data set per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.generate import GenerationStats, generate
from orchestration.settings import Settings, get_settings

TINY_CUSTOMERS = 300
TINY_SEED = 7


@dataclass(frozen=True)
class Generated:
    landing: Path
    truth: Path
    stats: GenerationStats


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """Sample exports of a few hundred customers, generated once and copied where needed."""
    root = tmp_path_factory.mktemp("generated")
    stats = generate(root / "landing", root / "truth", customers=TINY_CUSTOMERS, seed=TINY_SEED, days=120)
    return Generated(root / "landing", root / "truth", stats)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An empty CDP_DATA_DIR for this test."""
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "cdp"))
    monkeypatch.setenv("CDP_DUCKDB_THREADS", "2")
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "2GB")
    s = get_settings()
    s.landing_dir.mkdir(parents=True)
    return s


@pytest.fixture
def landed(settings: Settings, generated: Generated) -> Settings:
    """CDP_DATA_DIR whose landing folder holds the generated exports."""
    shutil.rmtree(settings.landing_dir)
    shutil.copytree(generated.landing, settings.landing_dir)
    return settings


@pytest.fixture
def con(settings: Settings) -> duckdb.DuckDBPyConnection:
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(settings.warehouse_path))
    yield connection
    connection.close()
