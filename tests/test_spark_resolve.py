"""A full identity resolution on Spark (``identity/spark/resolve.py``) is DuckDB's, end to end, on
a generated sample of 2,000 customers (about 11,000 records): every record in every column, the
same exact links, blocking keys, scored pairs (match weights to 1e-6) and prior, the same edges
with their guards and refusals, every record in the same cluster under the same label, the same
flagged clusters, attachment values and connected parts. The model is the one the DuckDB run
trained on the sample, as a first run trains it (``orchestration/benchmarks/spark_identity.py``
runs the same comparison on any landing folder, with each engine's time per step)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.benchmarks.spark_identity import compare
from orchestration.exports import ALL_TABLES
from orchestration.generate import generate
from orchestration.identity import model
from orchestration.identity.config import load_identity_settings
from orchestration.identity.resolution import ResolutionConfig, resolve
from orchestration.identity.spark.resolve import resolve as resolve_on_spark
from orchestration.identity.standardise import READ_TABLES
from orchestration.ingest.loader import load_table

pytestmark = pytest.mark.spark


def test_a_full_resolution_on_spark_is_duckdbs(spark, tmp_path: Path) -> None:
    generate(tmp_path / "landing", tmp_path / "truth", customers=2000, seed=42)
    con = duckdb.connect()
    for spec in ALL_TABLES:
        load_table(con, spec, tmp_path / "landing", tmp_path / "quarantine", log=lambda _: None)
    identity = load_identity_settings()
    trained = tmp_path / "model.json"
    duck = resolve(con, ResolutionConfig(identity, trained_model=trained), log=lambda _: None, full=True)
    assert duck.trained  # the model both engines score with is this sample's
    raw = {
        name: spark.createDataFrame(con.table(name).to_arrow_table())
        for name in [f"raw_current.{t}" for t in ("pos_stores", *READ_TABLES)]
    }
    got = resolve_on_spark(spark, raw, identity, model.read_model(trained), log=lambda _: None)

    compared = compare(con, got.tables)
    assert {t: c for t, c in compared.items() if c["only_duckdb"] or c["only_spark"]} == {}
    assert compared["identity.scored_edges"]["max_abs_match_weight_difference"] <= 1e-6
    assert compared["identity.records"]["rows"] > 8000
    assert compared["identity.scored_edges"]["rows"] == duck.scored_pairs > 5000
    assert got.scored.prior_source == duck.prior
    # Something to compare: refusals by a conflict, guards, attachments, merged clusters.
    edges = con.execute(
        "select count(*) filter (where guard like 'conflicting%'), count(*) filter (where guard = "
        "'different first names'), count(*) filter (where method like 'attached:%') from identity.edges"
    ).fetchall()[0]
    assert min(edges) > 0
    clusters = con.execute("select count(distinct cluster_id), count(*) from identity.clusters").fetchall()[0]
    assert clusters[0] < 0.8 * clusters[1]
