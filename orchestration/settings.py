"""Runtime configuration, read from environment variables with embedded defaults.

Everything local lives under one folder, ``CDP_DATA_DIR`` (default ``data/`` in the repository):

- ``landing/<source>/``: export files as delivered by the source systems;
- ``warehouse/cdp.duckdb``: the DuckDB warehouse (one writer at a time);
- ``quarantine/files/``: copies of files that could not be read at all;
- ``serving/``: published outputs for BI tools (``marts.duckdb``, ``parquet/``, reports, dbt docs);
- ``identity/model.json``: the Splink model trained on these records (``cdp identity train``);
- ``truth/``: ground truth of generated data, never read by the pipeline;
- ``dagster/``: the local Dagster instance (run history, schedules, sensors).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    duckdb_threads: int
    duckdb_memory_limit: str
    # A landing file modified less than this many seconds ago is watched that long before it is
    # read; one still changing is left for the next run (CDP_LANDING_SETTLE_SECONDS).
    landing_settle_seconds: float = 5.0

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
    def pseudonym_salt_file(self) -> Path:
        return self.data_dir / "warehouse" / "pseudonym_salt"

    @property
    def trained_model_path(self) -> Path:
        """The Splink model trained on this warehouse's records (preferred over the shipped one)."""
        return self.data_dir / "identity" / "model.json"

    @property
    def truth_dir(self) -> Path:
        return self.data_dir / "truth"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    @property
    def dbt_target_dir(self) -> Path:
        """The target folders of this data folder's ``dbt build`` steps and the parsed project the
        next dbt step starts from. Per data folder, not in ``dbt_project/target``: two data folders
        (a test beside a run, two installations of one clone) must never remove, or start from, each
        other's builds; the parsed project also depends on the profile, i.e. on CDP_DATA_DIR."""
        return self.data_dir / "dbt"


def get_settings() -> Settings:
    """Read the environment now (not at import), so tests can point CDP_DATA_DIR elsewhere."""
    data_dir = Path(os.environ.get("CDP_DATA_DIR", REPO_ROOT / "data")).expanduser().resolve()
    return Settings(
        data_dir=data_dir,
        duckdb_threads=int(os.environ.get("CDP_DUCKDB_THREADS", os.cpu_count() or 2)),
        duckdb_memory_limit=os.environ.get("CDP_DUCKDB_MEMORY_LIMIT", "4GB"),
        landing_settle_seconds=float(os.environ.get("CDP_LANDING_SETTLE_SECONDS", "5")),
    )


def get_clear_pii() -> frozenset[str]:
    """PII columns published in clear to ``serving/`` (CDP_SERVING_PII: "email,phone", "all";
    default none: every column tagged ``pii`` in dbt is published as a pseudonymous key)."""
    return frozenset(c.strip() for c in os.environ.get("CDP_SERVING_PII", "").split(",") if c.strip())


# Freshness: hours after which a source's newest record is stale, by default (CDP_FRESHNESS_HOURS_<SOURCE>).
FRESHNESS_HOURS = {"pos": 48, "ecommerce": 48, "crm": 72, "survey": 168}


@dataclass(frozen=True)
class ShareBand:
    """Expected range of a share of identity records (CDP_QUALITY_*_SHARE: 'min,max')."""

    low: float
    high: float
    explicit: bool  # set in the environment (the check is critical) rather than the default


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds of the data quality checks (orchestration/quality), from the environment."""

    freshness_hours: dict[str, int]
    # Freshness is judged as of this instant (ISO 8601; default now): set it to replay old exports.
    as_of: str | None
    # A customer with more records than this is an over-merge (CDP_IDENTITY_MAX_CLUSTER; default
    # None: the identity resolver's own cap, matching.max_cluster_size in identity.yml).
    max_cluster_records: int | None
    # Bands for the share of identity records linked only probabilistically, and left alone
    # (singletons). Set by the user, a share outside is an error; by default they are the bands of
    # our sample data, and a share outside is only a warning (real data can differ a lot).
    probabilistic_share: ShareBand
    singleton_share: ShareBand
    # Largest move of either share between two identity runs (0.10 = 10 points), an error beyond.
    identity_max_jump: float


def _share(name: str, value: str) -> float:
    """``value`` as a share between 0 and 1, or an error that names the variable."""
    try:
        share = float(value)
    except ValueError:
        share = math.nan
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{name}: {value!r} is not a share between 0 and 1")
    return share


def _band(name: str, default: str) -> ShareBand:
    value = os.environ.get(name) or default
    bounds = value.split(",")
    if len(bounds) != 2:
        raise ValueError(f"{name}: {value!r} is not a band 'min,max', e.g. {default!r}")
    low, high = (_share(name, b.strip()) for b in bounds)
    return ShareBand(low, high, explicit=bool(os.environ.get(name)))


def get_quality_settings() -> QualitySettings:
    max_jump = os.environ.get("CDP_QUALITY_IDENTITY_MAX_JUMP") or "0.10"
    return QualitySettings(
        freshness_hours={
            source: int(os.environ.get(f"CDP_FRESHNESS_HOURS_{source.upper()}", hours))
            for source, hours in FRESHNESS_HOURS.items()
        },
        as_of=os.environ.get("CDP_QUALITY_AS_OF") or None,
        max_cluster_records=int(os.environ["CDP_IDENTITY_MAX_CLUSTER"])
        if os.environ.get("CDP_IDENTITY_MAX_CLUSTER")
        else None,
        probabilistic_share=_band("CDP_QUALITY_PROBABILISTIC_SHARE", "0.0,0.30"),
        singleton_share=_band("CDP_QUALITY_SINGLETON_SHARE", "0.0,0.50"),
        identity_max_jump=_share("CDP_QUALITY_IDENTITY_MAX_JUMP", max_jump),
    )
