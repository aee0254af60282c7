"""The string similarities Splink's levels use on Spark (``identity/spark/splink_api.py``) equal
DuckDB's, on the tiny generated population's values and their one-typo variants
(``tests/test_spark_scoring.py`` scores whole models on both engines).
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.identity.spark.splink_api import register_similarities
from orchestration.identity.standardise import build_identity_records
from orchestration.ingest.loader import load_table

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, generated):
    """The tiny population's identity records in DuckDB."""
    root: Path = tmp_path_factory.mktemp("spark-splink")
    con = duckdb.connect()
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, root / "quarantine", log=lambda _: None)
    build_identity_records(con)
    yield (con,)
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
