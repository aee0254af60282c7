"""Shared fixtures: a temporary CDP_DATA_DIR per test, one tiny generated data set per session, and
one full pipeline run over it (with one unreadable till ticket added) shared by the dbt and KPI tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.resources import build_resources
from orchestration.generate import DEFAULT_END_DATE, GenerationStats, Lifecycle, generate, sample_as_of
from orchestration.settings import Settings, get_settings

TINY_CUSTOMERS = 300
TINY_SEED = 7
# Four months of period after a year of history (in the *_initial files): customers arrive and
# lapse in both (generate.Lifecycle), and the last months have a 12-month retention base.
TINY_HISTORY_DAYS = 365
FRESH_AS_OF = sample_as_of(DEFAULT_END_DATE)
# 300 customers, a third of whom have lapsed by the end, make a ticket or a web order every day or
# two: the tiny data's tills and web shop can be silent for three days. The default freshness
# (48 h) is for a retailer's daily volume; here a source is fresh if it delivered within a week.
# Set for the whole session, so that the subprocesses the tests start inherit it.
for _source in ("POS", "ECOMMERCE"):
    os.environ.setdefault(f"CDP_FRESHNESS_HOURS_{_source}", "168")
BAD_TICKET = "MBAD-20260110-000000001;M001;1;10/01/2026 10:00:00;VENTE;;;;;;;douze;CB;;;;"


@dataclass(frozen=True)
class Generated:
    landing: Path
    truth: Path
    stats: GenerationStats


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """Sample exports of a few hundred customers, generated once and copied where needed."""
    root = tmp_path_factory.mktemp("generated")
    stats = generate(
        root / "landing",
        root / "truth",
        customers=TINY_CUSTOMERS,
        seed=TINY_SEED,
        days=120,
        lifecycle=Lifecycle(history_days=TINY_HISTORY_DAYS),
    )
    return Generated(root / "landing", root / "truth", stats)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An empty CDP_DATA_DIR for this test."""
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "cdp"))
    monkeypatch.setenv("CDP_DUCKDB_THREADS", "2")
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "2GB")
    monkeypatch.setenv("CDP_QUALITY_AS_OF", FRESH_AS_OF)
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


def run_job(name: str, settings: Settings, **kwargs) -> dg.ExecuteInProcessResult:
    """Execute a job of the real definitions in-process on ``settings``' warehouse."""
    job = build_definitions().resolve_job_def(name)
    instance = kwargs.pop("instance", None) or dg.DagsterInstance.ephemeral()
    return job.execute_in_process(resources=build_resources(settings), instance=instance, **kwargs)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory, generated: Generated) -> Iterator[tuple]:
    """Settings and the result of one full run, on landing files that include one bad row."""
    root = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDP_DATA_DIR", str(root / "cdp"))
        mp.setenv("CDP_DUCKDB_THREADS", "2")
        mp.setenv("CDP_DUCKDB_MEMORY_LIMIT", "2GB")
        # Sample data ends on the generator's end date: judge freshness as of the day after.
        mp.setenv("CDP_QUALITY_AS_OF", FRESH_AS_OF)
        settings = get_settings()
        shutil.copytree(generated.landing, settings.landing_dir)
        shutil.copytree(generated.truth, settings.truth_dir)  # the identity asset scores itself
        tickets = sorted((settings.landing_dir / "pos").glob("tickets_*.csv"))[0]
        with tickets.open("ab") as f:
            f.write((BAD_TICKET + "\r\n").encode("cp1252"))
        result = run_job("full_pipeline", settings)
        yield settings, result


@pytest.fixture
def copied(pipeline: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A copy of the shared pipeline run's data folder (without its Dagster instance), in force:
    for tests that run the pipeline again or change what it left."""
    before, _ = pipeline
    shutil.copytree(before.data_dir, tmp_path / "cdp", ignore=shutil.ignore_patterns("dagster"))
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "cdp"))
    monkeypatch.setenv("CDP_DUCKDB_THREADS", "2")
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "2GB")
    monkeypatch.setenv("CDP_QUALITY_AS_OF", FRESH_AS_OF)
    monkeypatch.setenv("CDP_LANDING_SETTLE_SECONDS", "0")
    return get_settings()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def offline_page(page_file: Path, width: int = 1400, height: int = 1000) -> Iterator[tuple]:
    """``page_file`` opened in headless Chromium (``CHROMIUM``): ``(page, errors, requests)``, the
    page's script errors and console errors, and every URL it requested (a self-contained page
    requests only itself)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on(
            "console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri(), wait_until="load")
        try:
            yield page, errors, requests
        finally:
            browser.close()


def failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    """``asset:check`` of every check of the run that did not pass, whatever its severity."""
    return [
        f"{c.asset_key.to_user_string()}:{c.check_name}"
        for c in result.get_asset_check_evaluations()
        if not c.passed
    ]


def query(settings: Settings, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the warehouse, opened read-only."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# --- Identity resolved in-process (no Dagster, no dbt) ------------------------------------------


def load_raw(con: duckdb.DuckDBPyConnection, landing: Path, root: Path) -> None:
    """Load every export of ``landing`` into ``con``'s raw layer (quarantine under ``root``)."""
    from orchestration.exports import ALL_TABLES
    from orchestration.ingest.loader import load_table

    for spec in ALL_TABLES:
        load_table(con, spec, landing, root / "quarantine", log=lambda _: None)


def resolve_in_process(con: duckdb.DuckDBPyConnection, root: Path, run_id: str, full: bool = False):
    """One identity run as the pipeline's step makes it: resolution (the model and the steward's
    decisions of ``root``), stable ids, the run's record."""
    from orchestration.identity import ResolutionConfig, resolve
    from orchestration.identity.history import record_resolution_run
    from orchestration.identity.stable_ids import assign_stable_ids

    config = ResolutionConfig(trained_model=root / "model.json", decisions_file=root / "decisions.jsonl")
    result = resolve(con, config, log=lambda _: None, full=full)
    assign_stable_ids(con, run_id)
    record_resolution_run(con, run_id)
    return result


def customer_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Record → customer id of the last resolution."""
    return dict(con.execute("select unique_id, customer_id from identity.customer_source_records").fetchall())


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory, generated: Generated) -> Path:
    """A folder with a warehouse after a full resolution of the tiny population (the shipped model
    saved as the one trained here), and no steward decision yet. Copy it before changing it."""
    from orchestration.identity import model

    root = tmp_path_factory.mktemp("resolved")
    shutil.copy(model.MODEL_PATH, root / "model.json")
    with duckdb.connect(str(root / "cdp.duckdb")) as con:
        load_raw(con, generated.landing, root)
        assert resolve_in_process(con, root, "first").mode == "full"
    return root


# The Spark master the Spark tests run on: local by default; the standalone cluster script
# (python -m orchestration.benchmarks.spark_standalone) runs them on a master and two workers.
SPARK_MASTER_ENV = "CDP_TEST_SPARK_MASTER"


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Spark session (``local[2]``, or ``$CDP_TEST_SPARK_MASTER``) with the standardisation
    functions; the test is skipped, saying why, without Java or pyspark (the ``spark`` extra)."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (Debian package openjdk-17-jre-headless)")
    pytest.importorskip("pyspark", reason="pyspark not installed (the `spark` extra)")
    from orchestration.identity.spark.session import spark_session

    session = spark_session(
        os.environ.get(SPARK_MASTER_ENV, "local[2]"),
        # Where Splink writes its intermediate tables as Parquet (its way of cutting long plans).
        str(tmp_path_factory.mktemp("spark-checkpoints")),
        {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"},
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
