"""Identity's records and exact links on Spark (``identity/spark/sql.py``): ``standardise.RECORDS_SQL``
and ``links.EDGES_SQL``, the DuckDB queries themselves carried to Spark, give the same records
(every column, every row) and the same edges as DuckDB on the tiny generated population plus the
hand-written identity cases (accents, titles, phones, household e-mails, cards, accounts, contacts,
checkouts, order and ticket references, returns)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

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


@pytest.fixture(scope="module")
def duck(generated, tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB's records, named records and exact links of the population plus the cases."""
    con = duckdb.connect()
    load_with_cases(con, generated.landing, tmp_path_factory.mktemp("spark-records"))
    build_identity_records(con)
    duckdb_named_records(con)
    build_deterministic_edges(con)
    yield con
    con.close()


def _frames(spark, con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict:
    return {name: spark.createDataFrame(con.table(name).to_arrow_table()) for name in tables}


def _same_rows(con: duckdb.DuckDBPyConnection, table: str, frame, at_least: int) -> None:
    """Every row of ``frame`` is one of DuckDB's ``table``, column for column, and no row is missing."""
    rows = con.execute(f"select {', '.join(frame.columns)} from {table}").fetchall()
    expected = sorted((tuple(map(_instant, row)) for row in rows), key=repr)
    got = sorted((tuple(row) for row in frame.collect()), key=repr)
    assert len(got) == len(expected) > at_least
    assert [(e, g) for e, g in zip(expected, got, strict=True) if e != g] == []


def test_the_records_on_spark_are_duckdbs(spark, duck) -> None:
    raw = _frames(spark, duck, [f"raw_current.{table}" for table in ("pos_stores", *READ_TABLES)])
    _same_rows(duck, "identity.records", identity_records(spark, raw), 1000)


def test_the_named_records_splink_compares_on_spark_are_duckdbs(spark, duck) -> None:
    records = _frames(spark, duck, ["identity.records"])["identity.records"]
    _same_rows(duck, "splink_named", named_records(spark, records), 300)


def test_the_exact_links_on_spark_are_duckdbs(spark, duck) -> None:
    sql = "select unique_id_l, unique_id_r, rule from identity.deterministic_edges"
    expected = set(duck.execute(sql).fetchall())
    got = {(r[0], r[1], r[2]) for r in deterministic_edges(spark, _frames(spark, duck, READ)).collect()}
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
