"""Runtime configuration, read from environment variables with embedded defaults.

Everything local lives under one folder, ``CDP_DATA_DIR`` (default ``data/`` in the repository):

- ``landing/<source>/``: export files as delivered by the source systems;
- ``warehouse/cdp.duckdb``: the DuckDB warehouse (one writer at a time);
- ``quarantine/files/``: copies of files that could not be read at all;
- ``serving/``: published outputs for BI tools;
- ``truth/``: ground truth of generated data, never read by the pipeline;
- ``dagster/``: the local Dagster instance (run history, schedules, sensors).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pos", "ecommerce", "crm", "survey")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    duckdb_threads: int
    duckdb_memory_limit: str

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "cdp.duckdb"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def serving_dir(self) -> Path:
        return self.data_dir / "serving"

    @property
    def truth_dir(self) -> Path:
        return self.data_dir / "truth"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"


def get_settings() -> Settings:
    """Read the environment now (not at import), so tests can point CDP_DATA_DIR elsewhere."""
    data_dir = Path(os.environ.get("CDP_DATA_DIR", REPO_ROOT / "data")).expanduser().resolve()
    return Settings(
        data_dir=data_dir,
        duckdb_threads=int(os.environ.get("CDP_DUCKDB_THREADS", os.cpu_count() or 2)),
        duckdb_memory_limit=os.environ.get("CDP_DUCKDB_MEMORY_LIMIT", "8GB"),
    )
