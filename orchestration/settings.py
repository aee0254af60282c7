"""Every setting of the pipeline, read from environment variables with embedded defaults.

Environment variables are for deployment: where the data folder is, threads and memory, which file
holds the user's own definitions, the thresholds of the data quality checks. What a user changes to
fit their data lives in those files (``identity.yml``, ``audiences.yml``, ``sources.yml``).

Each variable is one field of ``Settings`` (or of ``QualitySettings``, the thresholds of the checks):
its type, its default, and in ``metadata=variable(...)`` its name, how its text is parsed and what it
is for. An unset or empty variable takes the default; a value that does not parse raises
``SettingsError`` naming the variable. Every path of the data folder (``CDP_DATA_DIR``) is a property
of ``Settings``.

This is the only module that reads the environment (``tests/test_settings.py`` checks it), and it
imports nothing from the project. ``docs/configuration.md`` is generated from it
(``cdp settings --write``; ``cdp settings`` prints the settings in force).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

DATA_DIR_ENV = "CDP_DATA_DIR"
# Written for the processes the pipeline starts, never read as a setting. Every process a run
# starts (dbt, Dagster's log tailers) inherits the run id: the next run finds them after a kill.
RUN_ID_ENV = "CDP_RUN_ID"
DAGSTER_HOME_ENV = "DAGSTER_HOME"  # Dagster's own: pointed at the data folder's dagster/


class SettingsError(ValueError):
    """An environment variable whose value does not parse; the message names the variable."""


def variable(name: str, description: str, parse: Callable[[str], Any], shown: str | None = None) -> dict:
    """The metadata of a field read from the environment variable ``name``: ``parse`` turns its
    text into the value (a ``ValueError`` saying what was expected otherwise); ``shown`` is the
    default as the documentation says it, when the value itself would not read well."""
    return {"variable": name, "description": description, "parse": parse, "shown": shown}


def _path(text: str) -> Path:
    return Path(text).expanduser().resolve()


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError("a whole number, 1 or more")
    return count


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("a number of seconds") from None


def _names(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


# The languages the vocabulary seeds have labels in (``label_<language>`` columns).
REPORT_LANGUAGES = ("en", "fr")


def _language(text: str) -> str:
    language = text.strip().lower()
    if language not in REPORT_LANGUAGES:
        raise ValueError(" or ".join(REPORT_LANGUAGES))
    return language


class folder_path(property):
    """A ``Settings`` property naming a folder of the data folder."""


class file_path(property):
    """A ``Settings`` property naming a file of the data folder."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("a date YYYY-MM-DD, e.g. '1990-01-01'") from None


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = math.nan
    if not 0.0 <= share <= 1.0:
        raise ValueError("a share between 0 and 1")
    return share


def _earliest(source: str, transactions: str) -> Any:
    """The earliest plausible transaction date of one source system: a date before it is a
    placeholder (1900-01-01) or a typo, which would open a period of its own in the marts."""
    return field(
        default=date(1990, 1, 1),
        metadata=variable(
            f"CDP_EARLIEST_DATE_{source.upper()}",
            f"{transactions} of the `{source}` source dated before this day are quarantined with the "
            "value, row by row ([raw-layer.md](raw-layer.md#what-happens-to-a-bad-delivery))",
            _date,
        ),
    )


@dataclass(frozen=True)
class Settings:
    """Where the pipeline keeps its state and how it runs. ``Settings()`` holds every default;
    ``get_settings()`` the values in force. The folders and files of the data folder are the
    properties below: a module takes its paths from here (or from its caller), never builds them."""

    data_dir: Path = field(
        default_factory=lambda: (REPO_ROOT / "data").resolve(),
        metadata=variable(
            DATA_DIR_ENV,
            "the data folder: all local state (the folders and files above)",
            _path,
            "`data/` in the repository",
        ),
    )
    duckdb_threads: int = field(
        default_factory=lambda: os.cpu_count() or 2,
        metadata=variable(
            "CDP_DUCKDB_THREADS",
            "DuckDB threads of the pipeline and of the benchmarks",
            _count,
            "number of CPUs",
        ),
    )
    duckdb_memory_limit: str = field(
        default="4GB",
        metadata=variable(
            "CDP_DUCKDB_MEMORY_LIMIT",
            "DuckDB memory limit, per process (the pipeline and dbt each); DuckDB spills to "
            "`warehouse/cdp.duckdb.tmp` beyond it. 4 GB keeps a 1-million-customer run under 6 GiB of "
            "resident memory on a 2-core machine (see [benchmarks.md](benchmarks.md#benchmark))",
            str,
        ),
    )
    landing_settle_seconds: float = field(
        default=5.0,
        metadata=variable(
            "CDP_LANDING_SETTLE_SECONDS",
            "a landing file modified less than this many seconds ago is watched that long before it is "
            "read; one still changing is left for the next run ([raw-layer.md](raw-layer.md))",
            _seconds,
        ),
    )
    sources_file: Path | None = field(
        default=None,
        metadata=variable(
            "CDP_SOURCES_FILE",
            "the mapping of your exports' column names and formats onto ours, when it is not the data "
            "folder's `sources.yml` ([export-formats.md](export-formats.md))",
            _path,
            "`sources.yml` in the data folder",
        ),
    )
    identity_config: Path | None = field(
        default=None,
        metadata=variable(
            "CDP_IDENTITY_CONFIG",
            "the identity settings file: thresholds, what a different birth date, phone, card or "
            "account means, first-name variants ([identity.md](identity.md#identityyml))",
            _path,
            "`orchestration/identity/identity.yml`",
        ),
    )
    audiences_config: Path | None = field(
        default=None,
        metadata=variable(
            "CDP_AUDIENCES_CONFIG",
            "the audiences written for activation, a channel and a SQL condition each "
            "([privacy.md](privacy.md#audiences-for-activation))",
            _path,
            "`orchestration/activation/audiences.yml`",
        ),
    )
    earliest_date_pos: date = _earliest("pos", "till tickets")  # noqa: RUF009 (a date is immutable)
    earliest_date_ecommerce: date = _earliest("ecommerce", "web orders")  # noqa: RUF009 (a date is immutable)
    earliest_date_crm: date = _earliest("crm", "service tickets")  # noqa: RUF009 (a date is immutable)
    earliest_date_survey: date = _earliest("survey", "survey answers")  # noqa: RUF009 (a date is immutable)
    clear_pii: frozenset[str] = field(
        default=frozenset(),
        metadata=variable(
            "CDP_SERVING_PII",
            "PII columns published in clear to `serving/` (`email,phone`, or `all`); by default every "
            "column tagged `meta: {pii: true}` in dbt is published as a pseudonymous key",
            _names,
            "empty",
        ),
    )
    identity_impact_limit: float = field(
        default=0.01,
        metadata=variable(
            "CDP_IDENTITY_IMPACT_LIMIT",
            "share of the published customers a run may change (records moved to another customer id: "
            "merges, splits) before the publication waits for a person's approval (`cdp identity "
            "approve`); 1 never waits ([identity.md](identity.md#merge-impact-preview))",
            _share,
        ),
    )
    report_language: str = field(
        default="en",
        metadata=variable(
            "CDP_REPORT_LANGUAGE",
            "language of the labels beside codes in `serving/` (`payment_method_label`...) and in the "
            "KPI report: `en` or `fr`, from the `label_en` / `label_fr` columns of the vocabulary seeds "
            "([serving.md](serving.md#labels-and-language))",
            _language,
        ),
    )

    @folder_path
    def landing_dir(self) -> Path:
        """export files as delivered, under `<source>/` (any subfolder depth)"""
        return self.data_dir / "landing"

    @file_path
    def mapping_path(self) -> Path:
        """how your exports differ from ours: column names, delimiter, encoding, date formats
        ([export-formats.md](export-formats.md)); `CDP_SOURCES_FILE` names another file"""
        return self.sources_file or self.data_dir / "sources.yml"

    @file_path
    def warehouse_path(self) -> Path:
        """the DuckDB warehouse, one writer at a time (never point a BI tool here: see
        [serving.md](serving.md))"""
        return self.data_dir / "warehouse" / "cdp.duckdb"

    @file_path
    def pseudonym_salt_file(self) -> Path:
        """the secret salt of the pseudonymous keys in `serving/`, created on first publication
        (mode 600); keep it to keep keys stable"""
        return self.data_dir / "warehouse" / "pseudonym_salt"

    @folder_path
    def quarantine_dir(self) -> Path:
        """copies of files that could not be read at all, in `files/<source>/`"""
        return self.data_dir / "quarantine"

    @folder_path
    def serving_dir(self) -> Path:
        """published outputs, safe to read during runs: the six entries below"""
        return self.data_dir / "serving"

    @file_path
    def published_marts_path(self) -> Path:
        """the marts for BI tools, pseudonymous, renamed into place after each run"""
        return self.serving_dir / "marts.duckdb"

    @folder_path
    def parquet_dir(self) -> Path:
        """the same marts as `<mart>.parquet` files"""
        return self.serving_dir / "parquet"

    @folder_path
    def report_dir(self) -> Path:
        """the KPI report, `index.html`, self-contained"""
        return self.serving_dir / "report"

    @folder_path
    def quality_dir(self) -> Path:
        """the data quality report, `index.html`, and GX validation results, `validations/`"""
        return self.serving_dir / "quality"

    @folder_path
    def dbt_docs_dir(self) -> Path:
        """the dbt documentation site, `index.html`, with its manifest and catalog"""
        return self.serving_dir / "dbt_docs"

    @folder_path
    def identity_report_dir(self) -> Path:
        """the identity training report: Splink's match-weights and m/u charts (offline HTML) and the
        parameter table"""
        return self.serving_dir / "identity"

    @file_path
    def trained_model_path(self) -> Path:
        """the Splink model trained on this warehouse's records (first run with enough named records,
        `training.auto_train_min_records` in `identity.yml`, or `cdp identity train`); preferred over
        the shipped one"""
        return self.data_dir / "identity" / "model.json"

    @file_path
    def steward_decisions_path(self) -> Path:
        """the data steward's merge and split decisions (must-links and cannot-links), with who, when
        and why, applied by every run ([identity.md](identity.md#steward-decisions)); append-only"""
        return self.data_dir / "identity" / "steward_decisions.jsonl"

    @folder_path
    def activation_dir(self) -> Path:
        """one CSV per audience, `<audience>.csv`: consented contacts in clear, readable by their
        owner only ([privacy.md](privacy.md#audiences-for-activation))"""
        return self.data_dir / "activation"

    @folder_path
    def privacy_dir(self) -> Path:
        """the suppression list of erased persons (salted hashes), its salt, the audit of privacy
        requests and the retention review ([privacy.md](privacy.md))"""
        return self.data_dir / "privacy"

    @folder_path
    def truth_dir(self) -> Path:
        """ground truth of generated data; never read by the pipeline"""
        return self.data_dir / "truth"

    @file_path
    def truth_identities_file(self) -> Path:
        """the person behind every source record of generated data: scored against when present
        (identity asset metadata, `cdp identity eval`), never used to resolve"""
        return self.truth_dir / "identities.csv"

    @folder_path
    def dagster_home(self) -> Path:
        """the local Dagster instance (`dagster.yaml`, run history, sensor and schedule state)"""
        return self.data_dir / "dagster"

    @folder_path
    def dbt_target_dir(self) -> Path:
        """the target folders of this data folder's `dbt build` steps and the parsed project the
        next dbt step starts from (per data folder: two data folders never share builds)"""
        # Not in dbt_project/target: two data folders (a test beside a run, two installations of one
        # clone) must never remove, or start from, each other's builds; the parsed project also
        # depends on the profile, i.e. on CDP_DATA_DIR.
        return self.data_dir / "dbt"

    @folder_path
    def tmp_dir(self) -> Path:
        """scratch of running steps, emptied when no run is alive"""
        return self.data_dir / "tmp"

    def earliest_date(self, source: str) -> date | None:
        """The earliest plausible transaction date of ``source`` (None: a source without one)."""
        return getattr(self, f"earliest_date_{source}", None)

    def in_folder(self, data_dir: Path) -> Settings:
        """These settings for another data folder (one a caller names, a benchmark's)."""
        return dataclasses.replace(self, data_dir=data_dir)


def data_paths() -> Iterator[tuple[str, property]]:
    """The ``Settings`` properties naming a folder or a file of the data folder, in their order."""
    for name, value in vars(Settings).items():
        if isinstance(value, folder_path | file_path):
            yield name, value


@contextlib.contextmanager
def data_dir_environment(data_dir: Path) -> Iterator[None]:
    """Point ``CDP_DATA_DIR`` at ``data_dir`` for code that reads its settings when it runs (the
    Dagster assets, the identity step); the environment is as it was after the block."""
    before = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(data_dir)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DATA_DIR_ENV, None)
        else:
            os.environ[DATA_DIR_ENV] = before


def get_settings() -> Settings:
    """Read the environment now (not at import), so tests can point CDP_DATA_DIR elsewhere."""
    return Settings(**_from_environment(Settings))


def data_folder(data_dir: Path) -> Settings:
    """The settings in force, for the data folder ``data_dir`` (a caller's, a benchmark's)."""
    return get_settings().in_folder(data_dir)


def _from_environment(cls: type) -> dict[str, Any]:
    """The fields of ``cls`` whose variable is set (not empty), parsed."""
    values = {}
    for f in fields(cls):
        name = f.metadata["variable"]
        text = os.environ.get(name, "").strip()
        if not text:
            continue
        try:
            values[f.name] = f.metadata["parse"](text)
        except ValueError as error:
            raise SettingsError(f"{name}: {text!r} is not {error}") from None
    return values


@dataclass(frozen=True)
class ShareBand:
    """Expected range of a share of identity records (CDP_QUALITY_*_SHARE: 'min,max')."""

    low: float
    high: float
    explicit: bool  # set in the environment (the check is critical) rather than the default


def _band(text: str) -> ShareBand:
    bounds = text.split(",")
    if len(bounds) != 2:
        raise ValueError("a band 'min,max' of shares between 0 and 1, e.g. '0.0,0.30'")
    low, high = (_share(b.strip()) for b in bounds)
    return ShareBand(low, high, explicit=True)


def _hours(source: str, default: int) -> Any:
    """The freshness threshold of one source system."""
    return field(
        default=default,
        metadata=variable(
            f"CDP_FRESHNESS_HOURS_{source.upper()}",
            f"hours after which the newest record of the `{source}` source is stale (a warning)",
            _count,
        ),
    )


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds of the data quality checks (``orchestration/quality``, [quality.md](quality.md))."""

    freshness_hours_pos: int = _hours("pos", 48)
    freshness_hours_ecommerce: int = _hours("ecommerce", 48)
    freshness_hours_crm: int = _hours("crm", 72)
    freshness_hours_survey: int = _hours("survey", 168)
    as_of: str | None = field(
        default=None,
        metadata=variable(
            "CDP_QUALITY_AS_OF",
            "instant freshness is judged at (ISO 8601), to check replayed or sample exports",
            str,
            "now, or the sample data's `truth/as_of.txt` when there is one",
        ),
    )
    max_cluster_records: int | None = field(
        default=None,
        metadata=variable(
            "CDP_IDENTITY_MAX_CLUSTER",
            "a customer with more records fails the identity check (an over-merge)",
            _count,
            "the resolver's cap (`matching.max_cluster_size` in `identity.yml`, 60 as shipped)",
        ),
    )
    # Set by the user, a share outside its band is an error; by default the bands are those of our
    # sample data, and a share outside is only a warning (real data can differ a lot).
    probabilistic_share: ShareBand = field(
        default=ShareBand(0.0, 0.30, explicit=False),
        metadata=variable(
            "CDP_QUALITY_PROBABILISTIC_SHARE",
            "band (min,max) of the share of identity records linked only by Splink; once set, a share "
            "outside it blocks",
            _band,
            "unset: a warning outside `0.0,0.30` (the sample data's band)",
        ),
    )
    singleton_share: ShareBand = field(
        default=ShareBand(0.0, 0.50, explicit=False),
        metadata=variable(
            "CDP_QUALITY_SINGLETON_SHARE",
            "band (min,max) of the share of identity records left alone; once set, a share outside it blocks",
            _band,
            "unset: a warning outside `0.0,0.50` (the sample data's band)",
        ),
    )
    identity_max_jump: float = field(
        default=0.10,
        metadata=variable(
            "CDP_QUALITY_IDENTITY_MAX_JUMP",
            "largest move (0.10 = 10 points, up or down) of the share of identity records linked only "
            "by Splink, or left alone, since the previous identity run; beyond it the identity check "
            "fails and blocks dbt and serving",
            _share,
            "`0.10`",
        ),
    )

    @property
    def freshness_hours(self) -> dict[str, int]:
        """Hours after which a source's newest record is stale, by source system."""
        prefix = "freshness_hours_"
        return {
            f.name.removeprefix(prefix): getattr(self, f.name)
            for f in fields(self)
            if f.name.startswith(prefix)
        }


# Where ``cdp generate`` writes the instant its sample exports were "taken" (the generator's
# ``AS_OF_FILE``, named here because settings import nothing from the project).
SAMPLE_AS_OF = Path("truth") / "as_of.txt"


def get_quality_settings() -> QualitySettings:
    """The check thresholds; freshness is judged at ``CDP_QUALITY_AS_OF``, else, on generated sample
    data, at the instant its exports were taken: a plain ``cdp run`` (or the Dagster UI) on a sample
    generated weeks ago would otherwise warn that every source is stale."""
    quality = QualitySettings(**_from_environment(QualitySettings))
    if quality.as_of is None:
        sample = get_settings().data_dir / SAMPLE_AS_OF
        with contextlib.suppress(OSError):
            quality = dataclasses.replace(quality, as_of=sample.read_text(encoding="utf-8").strip() or None)
    return quality
