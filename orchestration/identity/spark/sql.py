"""Identity's DuckDB SQL run on Spark, so that each step's query stays written once.

The statement is parsed as DuckDB SQL (sqlglot), a ``create … as`` keeps only its query, every
schema-qualified table (``identity.records``, ``raw_current.pos_tickets``) becomes a temporary view
of a frame the caller gives, DuckDB's function calls become Spark's
(``splink_api.duckdb_to_spark``'s rewrite), and Spark runs the result. A step whose SQL this cannot
carry over fails in Spark's parser or analyser with the statement, never silently; each step run
this way has a test comparing its rows with DuckDB's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from orchestration.identity.spark.splink_api import spark_functions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def view_name(table: str) -> str:
    """The temporary view standing for ``schema.table`` (``raw_current.pos_tickets`` →
    ``raw_current__pos_tickets``)."""
    return table.replace(".", "__")


def to_spark_sql(sql: str) -> str:
    """DuckDB ``sql`` (a query, or ``create … as`` a query) as a Spark query over the views of
    ``view_name``."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if isinstance(tree, exp.Create):
        tree = tree.expression

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.args.get("db"):
            renamed = exp.to_table(view_name(f"{node.db}.{node.name}"))
            if node.alias:
                renamed.set("alias", node.args["alias"])
            return renamed
        return spark_functions(node)

    return tree.transform(rename).sql(dialect="spark")


def run_duckdb_sql(spark: SparkSession, sql: str, tables: Mapping[str, DataFrame]) -> DataFrame:
    """Run DuckDB ``sql`` on Spark, each ``schema.table`` it reads given in ``tables``."""
    for name, frame in tables.items():
        frame.createOrReplaceTempView(view_name(name))
    return spark.sql(to_spark_sql(sql))


def value_of(spark: SparkSession) -> Callable[[str], object]:
    """The value of a DuckDB query of one value, run on Spark (``train.ValueOf``)."""
    return lambda query: spark.sql(to_spark_sql(query)).first()[0]


def deterministic_edges(spark: SparkSession, tables: Mapping[str, DataFrame]) -> DataFrame:
    """``identity.deterministic_edges`` on Spark: ``links.EDGES_SQL`` over ``tables``
    (``identity.records`` and the latest versions of the raw tables it reads, ``raw_current.…``).
    The DuckDB path narrows the web events to checkouts before taking their latest versions (a
    saving); given the latest versions, the checkouts are read from them."""
    from orchestration.identity.links import EDGES_SQL

    sql = EDGES_SQL.replace("__CHECKOUTS__", "select * from raw_current.ecommerce_web_events")
    return run_duckdb_sql(spark, sql, tables)


def identity_records(spark: SparkSession, tables: Mapping[str, DataFrame]) -> DataFrame:
    """``identity.records`` on Spark: ``standardise.records_sql()`` over ``tables`` (the latest
    versions of the stores and of every raw table records come from, ``raw_current.…``), with the
    standardisation functions of ``spark/standardise.py`` registered on the session."""
    from orchestration.identity.standardise import records_sql

    return run_duckdb_sql(spark, records_sql(), tables)


def named_records(spark: SparkSession, records: DataFrame) -> DataFrame:
    """``splink_inputs.named_records`` on Spark: the named records with the columns Splink compares,
    from ``identity.records``; its steps are temporary views of the session, as the DuckDB path's
    are temporary tables."""
    from orchestration.identity.splink_inputs import named_records_sql

    tables: dict[str, DataFrame] = {"identity.records": records}
    frame = records
    for table, query in named_records_sql().items():
        frame = run_duckdb_sql(spark, query, tables)
        frame.createOrReplaceTempView(table)
    return frame
