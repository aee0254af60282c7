"""Stable customer ids (issue 3): reruns, new records, merges and splits, on hand-made clusters."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.identity.stable_ids import IDS_PENDING, assign_stable_ids


@pytest.fixture
def wh() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema identity")
    con.execute(
        "create table identity.edges (unique_id_l varchar, unique_id_r varchar, match_probability double, "
        "method varchar, guard varchar)"
    )
    return con


def run(con: duckdb.DuckDBPyConnection, clusters: dict[str, list[str]], run_id: str) -> dict[str, str]:
    """Resolve with the given clusters (label -> records); returns record -> customer_id."""
    rows = [(rid, label) for label, records in clusters.items() for rid in records]
    con.execute("create or replace table identity.clusters (unique_id varchar, cluster_id varchar)")
    con.executemany("insert into identity.clusters values (?, ?)", rows)
    con.execute(
        "create or replace table identity.records as select unique_id, split_part(unique_id, ':', 1) "
        "as source_system, split_part(unique_id, ':', 2) as source_record_id, now() as seen_at "
        "from identity.clusters"
    )
    # As a full clustering leaves it: every record's id to assign again.
    con.execute(f"drop table if exists {IDS_PENDING}")
    assign_stable_ids(con, run_id)
    return dict(con.execute("select unique_id, customer_id from identity.customer_source_records").fetchall())


def history(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple]:
    return con.execute(
        "select change, customer_id, into_customer_id, records from identity.customer_id_history "
        "where run_id = ? order by all",
        [run_id],
    ).fetchall()


def test_same_input_same_ids_whatever_the_cluster_labels(wh) -> None:
    first = run(wh, {"x": ["s:1", "s:2"], "y": ["s:3"]}, "r1")
    assert first["s:1"] == first["s:2"] != first["s:3"]
    assert first["s:1"].startswith("C") and len(first["s:1"]) == 13
    again = run(wh, {"other-label": ["s:2", "s:1"], "z": ["s:3"]}, "r2")
    assert again == first
    assert history(wh, "r2") == []
    # a brand-new warehouse with the same clusters derives the same ids
    fresh = duckdb.connect()
    fresh.execute("create schema identity")
    fresh.execute("create table identity.edges as select * from (select 1) where false")
    fresh.execute(
        "create or replace table identity.edges (unique_id_l varchar, unique_id_r varchar, "
        "match_probability double, method varchar, guard varchar)"
    )
    assert run(fresh, {"a": ["s:1", "s:2"], "b": ["s:3"]}, "r1") == first


def test_a_new_record_joins_an_existing_customer_and_keeps_its_id(wh) -> None:
    first = run(wh, {"x": ["s:5", "s:6"]}, "r1")
    second = run(wh, {"x": ["s:1", "s:5", "s:6"]}, "r2")  # s:1 is now the smallest record
    assert second["s:1"] == second["s:5"] == first["s:5"]


def test_a_merge_keeps_the_older_id_and_records_the_other(wh) -> None:
    first = run(wh, {"x": ["s:1"]}, "r1")
    second = run(wh, {"x": ["s:1"], "y": ["s:2", "s:3"]}, "r2")  # y is created later
    older, younger = first["s:1"], second["s:2"]
    merged = run(wh, {"z": ["s:1", "s:2", "s:3"]}, "r3")
    assert set(merged.values()) == {older}
    assert history(wh, "r3") == [("merged", younger, older, 2)]
    retired = wh.execute(
        "select retired_into from identity.customer_registry where customer_id = ?", [younger]
    ).fetchall()
    assert retired == [(older,)]


def test_a_split_keeps_the_id_on_the_larger_part_and_records_the_other(wh) -> None:
    first = run(wh, {"x": ["s:1", "s:2", "s:3"]}, "r1")
    original = first["s:1"]
    split = run(wh, {"a": ["s:1"], "b": ["s:2", "s:3"]}, "r2")
    assert split["s:2"] == split["s:3"] == original
    assert split["s:1"] != original
    assert history(wh, "r2") == [("created", split["s:1"], None, 1), ("split", split["s:1"], original, 1)]
