"""Identity's records and exact links on Spark (``identity/spark/sql.py``): ``standardise.RECORDS_SQL``
and ``links.EDGES_SQL``, the DuckDB queries themselves carried to Spark, give the same records
(every column, every row) and the same edges as DuckDB on the tiny generated population plus the
hand-written identity cases (accents, titles, phones, household e-mails, cards, accounts, contacts,
checkouts, order and ticket references, returns)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from orchestration.identity.links import build_deterministic_edges
from orchestration.identity.spark.sql import (
    deterministic_edges,
    identity_records,
    named_records,
    to_spark_sql,
)
from orchestration.identity.splink_inputs import named_records as duckdb_named_records
from orchestration.identity.standardise import READ_TABLES, build_identity_records
from tests.test_identity_cases import load_with_cases

pytestmark = pytest.mark.spark
READ = ("raw_current.ecommerce_web_events", "raw_current.survey_responses", "raw_current.crm_tickets",
        "raw_current.pos_tickets", "identity.records")  # fmt: skip


def _instant(value: object) -> object:
    """DuckDB returns a timestamp with time zone as an aware datetime, Spark as naive UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def test_the_records_on_spark_are_duckdbs(spark, generated, tmp_path: Path) -> None:
    con = duckdb.connect()
    load_with_cases(con, generated.landing, tmp_path)
    build_identity_records(con)
    names = [f"raw_current.{table}" for table in ("pos_stores", *READ_TABLES)]
    frames = {n: spark.createDataFrame(con.table(n).to_arrow_table()) for n in names}
    records = identity_records(spark, frames)
    rows = con.execute(f"select {', '.join(records.columns)} from identity.records").fetchall()
    expected = sorted((tuple(map(_instant, row)) for row in rows), key=repr)
    got = sorted((tuple(row) for row in records.collect()), key=repr)
    assert len(got) == len(expected) > 1000
    assert [(e, g) for e, g in zip(expected, got, strict=True) if e != g] == []


def test_the_named_records_splink_compares_on_spark_are_duckdbs(spark, generated, tmp_path: Path) -> None:
    con = duckdb.connect()
    load_with_cases(con, generated.landing, tmp_path)
    build_identity_records(con)
    duckdb_named_records(con)
    named = named_records(spark, spark.createDataFrame(con.table("identity.records").to_arrow_table()))
    rows = con.execute(f"select {', '.join(named.columns)} from splink_named").fetchall()
    expected = sorted(rows, key=repr)
    got = sorted((tuple(row) for row in named.collect()), key=repr)
    assert len(got) == len(expected) > 300
    assert [(e, g) for e, g in zip(expected, got, strict=True) if e != g] == []


def test_the_exact_links_on_spark_are_duckdbs(spark, generated, tmp_path: Path) -> None:
    con = duckdb.connect()
    load_with_cases(con, generated.landing, tmp_path)
    build_identity_records(con)
    build_deterministic_edges(con)
    expected = set(
        con.execute("select unique_id_l, unique_id_r, rule from identity.deterministic_edges").fetchall()
    )
    tables = {name: spark.createDataFrame(con.table(name).to_arrow_table()) for name in READ}
    got = {(r[0], r[1], r[2]) for r in deterministic_edges(spark, tables).collect()}
    assert got == expected
    # Every rule is exercised.
    assert {rule for *_, rule in expected} == {
        "loyalty_card", "web_account", "crm_contact", "checkout",
        "order_reference", "service_ticket", "return_ticket",
    }  # fmt: skip


def test_a_schema_qualified_table_becomes_a_view_and_keeps_its_alias() -> None:
    sql = to_spark_sql(
        "create or replace table x.y as select a.k from identity.records a join raw_current.t using (k)"
    )
    assert sql == "SELECT a.k FROM identity__records AS a JOIN raw_current__t USING (k)"
