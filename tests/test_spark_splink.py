"""Splink on Spark scores what Splink on DuckDB scores (``identity/spark/splink_api.py``): the same
pairs with the same match weights, from the same inputs and model, on the tiny generated
population; and the string similarities the model's levels use equal DuckDB's.
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.identity import model, scoring
from orchestration.identity.config import load_identity_settings
from orchestration.identity.spark.splink_api import CdpSparkAPI, register_similarities, spark_linker
from orchestration.identity.spark.splink_api import refine_prior as spark_refine_prior
from orchestration.identity.splink_inputs import linker_over, prepare_inputs
from orchestration.identity.standardise import build_identity_records
from orchestration.ingest.loader import load_table

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, generated):
    """The tiny population's Splink inputs in DuckDB, and the shipped model fitted to them."""
    root: Path = tmp_path_factory.mktemp("spark-splink")
    con = duckdb.connect()
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, root / "quarantine", log=lambda _: None)
    identity = load_identity_settings()
    build_identity_records(con, identity)
    con.execute("create schema work")
    prepared = prepare_inputs(con, identity, lambda _: None, "work")
    yield con, prepared, model.fit_to_plan(model.read_model(model.MODEL_PATH), prepared.plan)
    con.close()


def test_the_similarities_equal_duckdbs(spark, inputs) -> None:
    con, *_ = inputs
    values = [
        r[0]
        for r in con.execute(
            "select distinct x from (select first_name as x from identity.records union all "
            "select street from identity.records union all select email from identity.records) "
            "where x is not null"
        ).fetchall()
    ]
    rng = random.Random(5)
    pairs = [(rng.choice(values), rng.choice(values)) for _ in range(2000)]
    for a in rng.sample(values, min(len(values), 1000)):  # one typo or one swap away: the levels' edges
        i = rng.randrange(len(a))
        pairs.append((a, a[:i] + "x" + a[i + 1 :]))
        pairs.append((a, a[:i] + a[i + 1 : i + 2] + a[i : i + 1] + a[i + 2 :]))
    pairs += [(None, "a"), ("a", None), ("", ""), ("", "a"), ("a", "")]
    duck = duckdb.connect()
    duck.execute("create table p (a varchar, b varchar)")
    duck.executemany("insert into p values (?, ?)", pairs)
    expected = duck.execute(
        "select jaro_winkler_similarity(a, b), damerau_levenshtein(a, b) from p"
    ).fetchall()
    register_similarities(spark)
    frame = spark.createDataFrame(pairs, "a string, b string")
    got = [
        (r[0], r[1]) for r in frame.selectExpr("jaro_winkler(a, b)", "damerau_levenshtein(a, b)").collect()
    ]

    # Jaro-Winkler to the last bits of a double (the two sum in another order), edit distances exactly.
    def differ(e: tuple, g: tuple) -> bool:
        if (e[0] is None) != (g[0] is None) or e[1] != g[1]:
            return True
        return e[0] is not None and abs(e[0] - g[0]) > 1e-12

    assert [(p, e, g) for p, e, g in zip(pairs, expected, got, strict=True) if differ(e, g)] == []


def test_splink_on_spark_scores_the_pairs_duckdb_scores(spark, inputs) -> None:
    con, prepared, fitted = inputs
    duck = linker_over(prepared.tables, fitted).inference.predict(threshold_match_weight=-10)
    sql = f"select unique_id_l, unique_id_r, match_weight from {duck.physical_name}"
    expected = {(left, right): w for left, right, w in con.execute(sql).fetchall()}
    api = CdpSparkAPI(spark_session=spark)
    tables = [
        api.register(spark.createDataFrame(con.table(name).to_arrow_table()), dataset_display_name=name)
        for name in prepared.names
    ]
    scored = spark_linker(tables, fitted).inference.predict(threshold_match_weight=-10).as_spark_dataframe()
    got = {(r[0], r[1]): r[2] for r in scored.select("unique_id_l", "unique_id_r", "match_weight").collect()}
    assert set(got) == set(expected)
    assert len(expected) > 500
    assert max(abs(got[pair] - expected[pair]) for pair in expected) <= 1e-6
    # The prior refined on the compared pairs: one aggregate per round on Spark, numpy on DuckDB.
    start, named = fitted["probability_two_random_records_match"], prepared.plan.records
    all_pairs = named * (named - 1) / 2
    on_duckdb = scoring.refine_prior(con, duck.physical_name, start, all_pairs)
    assert spark_refine_prior(scored, start, all_pairs) == pytest.approx(on_duckdb, rel=1e-6)
    assert on_duckdb != pytest.approx(start, rel=1e-3)  # the refinement moved it
