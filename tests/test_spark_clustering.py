"""Clustering on Spark equals DuckDB's, from the same scored pairs: the rule telling whether two
records' names can be one person's (``cdp_names_compatible``); the edges with their first-name
guard (``cluster.edges_sql``, the DuckDB query carried over); and the whole clustering
(``spark/clustering.py``): every edge with the same guard or refusal, every record in the same
cluster, the same flagged clusters, attachment values and connected parts; a steward's must-link
included. On the tiny generated population plus the hand-written identity cases (households,
nicknames, swapped names, twins), resolved by the DuckDB path."""

from __future__ import annotations

import random
from collections.abc import Iterator

import duckdb
import pytest

from orchestration.identity.cluster import FIRST_NAME_GUARD, Scope, edges_sql
from orchestration.identity.config import load_identity_settings
from orchestration.identity.decisions import MUST_LINK, STEWARD_METHOD, decide, work_tables
from orchestration.identity.resolution import ResolutionConfig, resolve
from orchestration.identity.spark.clustering import cluster_all
from orchestration.identity.spark.splink_api import register_similarities
from orchestration.identity.spark.sql import run_duckdb_sql
from orchestration.identity.spark.standardise import register_name_rules
from orchestration.identity.stable_ids import assign_stable_ids
from tests.test_identity_cases import load_with_cases

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def resolved(
    generated, spark, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The population plus the cases resolved on DuckDB under one steward must-link; the name rules
    on the Spark session."""
    con = duckdb.connect()
    load_with_cases(con, generated.landing, tmp_path_factory.mktemp("spark-clustering"))
    identity = load_identity_settings()
    resolve(con, ResolutionConfig(identity), log=lambda _: None, full=True)
    # A steward's must-link between two records left alone, then the resolution it holds in.
    assign_stable_ids(con)
    a, b = [r[0] for r in con.execute(
        "select min(unique_id) from identity.clusters group by cluster_id having count(*) = 1 "
        "order by 1 limit 2").fetchall()]  # fmt: skip
    steward = tmp_path_factory.mktemp("steward") / "decisions.jsonl"
    decide(con, steward, MUST_LINK, [a], b, "same person", "tester")
    resolve(con, ResolutionConfig(identity, decisions_file=steward), log=lambda _: None, full=True)
    assert con.execute(
        f"select count(distinct cluster_id) from identity.clusters where unique_id in ('{a}', '{b}')"
    ).fetchall() == [(1,)]
    con.execute("create schema work")
    work_tables(con, "work")  # the must-link as the clustering reads it
    register_similarities(spark)
    variants = register_name_rules(spark, identity.first_name_variants, identity.phonetic_first_names)
    yield con, variants  # the Spark frame of identity.first_name_variants, for the merge
    con.close()


def _frames(spark, con: duckdb.DuckDBPyConnection, tables: list[str]) -> dict:
    return {name: spark.createDataFrame(con.table(name).to_arrow_table()) for name in tables}


def test_the_name_rule_on_spark_is_duckdbs(spark, resolved) -> None:
    con, _ = resolved
    names = [
        r[0]
        for r in con.execute(
            "select distinct first_name from identity.records where first_name is not null"
        ).fetchall()
    ]
    surnames = [
        r[0]
        for r in con.execute(
            "select distinct last_name from identity.records where last_name is not null"
        ).fetchall()
    ]
    variants = [
        r[0] for r in con.execute("select distinct member from identity.first_name_variants").fetchall()
    ]
    # The names of every scored pair, then random ones: variants, swapped names, nulls.
    quads = set(
        con.execute(
            "select l.first_name, l.last_name, r.first_name, r.last_name from identity.scored_edges s "
            "join identity.records l on l.unique_id = s.unique_id_l "
            "join identity.records r on r.unique_id = s.unique_id_r"
        ).fetchall()
    )
    rng = random.Random(11)
    pool = [*names, *variants, None]
    for _ in range(3000):
        last = rng.choice([*surnames, None])
        first = rng.choice(pool)
        quads.add((first, last, rng.choice(pool), rng.choice([last, *surnames[:50], None])))
        quads.add((first, last, last, first))  # swapped
    quads = sorted(quads, key=repr)
    con.execute("create or replace temp table q (fl varchar, ll varchar, fr varchar, lr varchar)")
    con.executemany("insert into q values (?, ?, ?, ?)", quads)
    rule = "cdp_names_compatible(fl, ll, fr, lr)"
    expected = {tuple(r[:4]): r[4] for r in con.execute(f"select *, {rule} from q").fetchall()}
    frame = spark.createDataFrame(quads, "fl string, ll string, fr string, lr string")
    got = {tuple(r[:4]): r[4] for r in frame.selectExpr("*", rule).collect()}
    assert len(got) == len(expected) == len(quads)
    assert [(q, expected[q], got[q]) for q in quads if expected[q] != got[q]] == []
    assert set(expected.values()) == {True, False, None}


def test_the_edges_and_their_guard_on_spark_are_duckdbs(spark, resolved) -> None:
    con, _ = resolved
    identity = load_identity_settings()
    query = edges_sql(Scope.everything("work"), identity)
    columns = "unique_id_l, unique_id_r, match_probability, match_weight, method, guard"
    expected = sorted(con.execute(f"select {columns} from ({query})").fetchall(), key=repr)
    read = ("identity.scored_edges", "identity.records", "identity.blocking_keys",
            "identity.deterministic_edges", "work.must_links")  # fmt: skip
    tables = _frames(spark, con, list(read))
    got = sorted(
        (tuple(r) for r in run_duckdb_sql(spark, query, tables).selectExpr(*columns.split(", ")).collect()),
        key=repr,
    )
    assert len(got) == len(expected)
    assert [(e, g) for e, g in zip(expected, got, strict=True) if e != g] == []
    assert sum(1 for e in expected if e[-1] == FIRST_NAME_GUARD) > 3


def _partition(pairs) -> set[frozenset]:
    """The groups of a labelling ``(record, label)``: equal whatever the labels are."""
    groups: dict[str, set[str]] = {}
    for record, label in pairs:
        groups.setdefault(label, set()).add(record)
    return {frozenset(g) for g in groups.values()}


def test_the_clustering_on_spark_is_duckdbs(spark, resolved) -> None:
    con, variants = resolved
    identity = load_identity_settings()
    read = ("identity.scored_edges", "identity.records", "identity.blocking_keys",
            "identity.deterministic_edges", "work.must_links", "raw_current.pos_stores")  # fmt: skip
    tables = {**_frames(spark, con, list(read)), "identity.first_name_variants": variants}
    got = cluster_all(spark, tables, identity, max_part_clusters=10_000)

    def rows(table: str, columns: str) -> list[tuple]:
        return sorted(con.execute(f"select {columns} from {table}").fetchall(), key=repr)

    def spark_rows(table: str, columns: str) -> list[tuple]:
        return sorted((tuple(r) for r in got[table].selectExpr(*columns.split(", ")).collect()), key=repr)

    edges = "unique_id_l, unique_id_r, match_probability, match_weight, method, guard"
    expected = rows("identity.edges", edges)
    on_spark = spark_rows("identity.edges", edges)
    assert len(on_spark) == len(expected)
    assert [(e, g) for e, g in zip(expected, on_spark, strict=True) if e != g] == []
    assert any(str(e[-1]).startswith("conflicting") for e in expected)  # the walk refused some
    assert any(e[4].startswith("attached:") for e in expected)
    assert any(e[4] == STEWARD_METHOD for e in expected)
    # Clusters: the same records together, and the same labels (each the smallest record, or
    # 'flagged:' and its deterministic cluster's).
    clusters = rows("identity.clusters", "unique_id, cluster_id")
    assert spark_rows("identity.clusters", "unique_id, cluster_id") == clusters
    assert len(_partition(clusters)) < len(clusters)
    flagged = "cluster_id, records, reason"
    assert spark_rows("identity.flagged_clusters", flagged) == rows("identity.flagged_clusters", flagged)
    values = "unique_id, cluster_id, kind, value, owner"
    assert spark_rows("identity.attachment_values", values) == rows("identity.attachment_values", values)
    parts = "unique_id, part_id"
    assert spark_rows("identity.connected_parts", parts) == rows("identity.connected_parts", parts)
