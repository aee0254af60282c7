"""Splink's Spark backend, working beside a compiled sqlglot.

Splink's ``SparkAPI`` rewrites every statement through a sqlglot dialect of its own
(``customspark``: Spark's, with ``CAST(<number> AS DOUBLE)`` written as a ``<number>D`` literal, so
that Spark never types a constant as a 38-digit decimal). That dialect subclasses sqlglot's Spark
generator, which the compiled build of sqlglot (``sqlglotc``, pulled in here by dagster-dbt) does
not allow: "interpreted classes cannot inherit from compiled". ``CdpSparkAPI`` makes the same
rewrite on sqlglot's expression tree with the stock Spark dialect instead.

The string similarities are not the jar's Splink ships: its Jaro-Winkler is not DuckDB's ('route
aristide briand' / 'route arristide briand': 0.9481 against DuckDB's 0.9528, across the 0.95 level
of the street comparison, 10 bits of match weight). ``CdpSparkAPI`` registers ``jaro_winkler`` and
``damerau_levenshtein`` from rapidfuzz instead, which equal DuckDB's on 20,000 pairs of names,
streets and e-mails (``tests/test_spark_splink.py``).
"""

from __future__ import annotations

import math

import pandas as pd  # the UDFs' type hints are read by name (pandas_udf)
import sqlglot
from splink import SparkAPI
from sqlglot import exp


def _double_literals(node: exp.Expression) -> exp.Expression:
    """``CAST(1.5 AS DOUBLE)`` → ``1.5D`` (what Splink's ``customspark`` dialect writes)."""
    if (
        isinstance(node, exp.Cast | exp.TryCast)
        and node.to.is_type(exp.DataType.Type.DOUBLE)
        and isinstance(node.this, exp.Literal)
        and not node.this.is_string
    ):
        return exp.Var(this=f"{node.this.name}D")
    return node


def register_similarities(spark) -> None:
    """``jaro_winkler`` and ``damerau_levenshtein`` on ``spark``'s session, equal to DuckDB's
    ``jaro_winkler_similarity`` and ``damerau_levenshtein`` (null when either side is)."""
    from pyspark.sql.functions import pandas_udf

    # Nested: shipped to the workers by value (they need pandas and rapidfuzz, not this project).
    @pandas_udf("double")
    def jaro_winkler(left: pd.Series, right: pd.Series) -> pd.Series:
        from rapidfuzz.distance import JaroWinkler

        return pd.Series(
            [
                # DuckDB: null with a null side, 0 with an empty one.
                None
                if a is None or b is None
                else JaroWinkler.normalized_similarity(a, b)
                if a and b
                else 0.0
                for a, b in zip(left, right, strict=True)
            ],
            dtype="float64",
        )

    @pandas_udf("int")
    def damerau_levenshtein(left: pd.Series, right: pd.Series) -> pd.Series:
        from rapidfuzz.distance import DamerauLevenshtein

        return pd.Series(
            [
                None if a is None or b is None else DamerauLevenshtein.distance(a, b)
                for a, b in zip(left, right, strict=True)
            ],
            dtype="Int32",
        )

    spark.udf.register("jaro_winkler", jaro_winkler)
    spark.udf.register("damerau_levenshtein", damerau_levenshtein)


class CdpSparkAPI(SparkAPI):
    """``SparkAPI`` whose statements are rewritten without subclassing sqlglot's Spark dialect, with
    DuckDB's string similarities (``register_similarities``) instead of the jar's."""

    def __init__(self, *, spark_session, **options) -> None:
        super().__init__(spark_session=spark_session, register_udfs_automatically=False, **options)
        register_similarities(spark_session)

    def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
        tree = sqlglot.parse_one(sql, read="spark").transform(_double_literals)
        return tree.sql(dialect="spark", pretty=True)


def spark_functions(node: exp.Expression) -> exp.Expression:
    """DuckDB calls as Spark's: ``hash`` is ``xxhash64``; ``jaro_winkler_similarity`` is the
    ``jaro_winkler`` ``CdpSparkAPI`` registers (``damerau_levenshtein`` has the same name in
    both); ``regexp_replace`` loses DuckDB's ``'g'`` flag (Spark replaces every match);
    ``regexp_full_match`` is an anchored ``rlike``;
    ``any_value(x) ignore nulls`` is ``any_value(x, true)``; ``timezone(zone, local)``, a local
    wall-clock timestamp made an instant, is ``to_utc_timestamp`` (the only use of ``timezone`` in
    identity's SQL: a naive timestamp)."""
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "hash":
        # DuckDB's 64-bit hash: Spark's ``hash`` is 32-bit (collisions certain among millions of
        # values), ``xxhash64`` is 64-bit. Both only count values, so the hashes need not agree.
        return exp.Anonymous(this="xxhash64", expressions=node.expressions)
    if isinstance(node, exp.JarowinklerSimilarity):
        return exp.Anonymous(this="jaro_winkler", expressions=[node.this, node.expression])
    if isinstance(node, exp.RegexpFullMatch) and isinstance(node.expression, exp.Literal):
        anchored = exp.Literal.string(f"^(?:{node.expression.this})\\z")
        return exp.RegexpLike(this=node.this, expression=anchored)
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        return exp.Anonymous(this="any_value", expressions=[node.this.this, exp.true()])
    if (
        isinstance(node, exp.Anonymous)
        and str(node.this).lower() == "timezone"
        and len(node.expressions) == 2
    ):
        zone, local = node.expressions
        return exp.Anonymous(
            this="to_utc_timestamp", expressions=[exp.cast(local, exp.DataType.build("timestamp")), zone]
        )
    if isinstance(node, exp.RegexpReplace) and node.args.get("modifiers"):
        node = node.copy()
        node.set("modifiers", None)
    return node


def duckdb_to_spark(sql: str) -> str:
    """A comparison level's or blocking rule's DuckDB SQL as Spark SQL."""
    return sqlglot.parse_one(sql, read="duckdb").transform(spark_functions).sql(dialect="spark")


def spark_settings(settings: dict) -> dict:
    """A Splink model written for DuckDB (``model.fit_to_plan``), its SQL rewritten for Spark."""
    comparisons = [
        {
            **comparison,
            "comparison_levels": [
                {**level, "sql_condition": duckdb_to_spark(level["sql_condition"])}
                if level["sql_condition"].strip().upper() != "ELSE"
                else level
                for level in comparison["comparison_levels"]
            ],
        }
        for comparison in settings["comparisons"]
    ]
    rules = [
        {"blocking_rule": duckdb_to_spark(rule["blocking_rule"])}
        if isinstance(rule, dict)
        else duckdb_to_spark(rule)
        for rule in settings["blocking_rules_to_generate_predictions"]
    ]
    out = {**settings, "comparisons": comparisons, "blocking_rules_to_generate_predictions": rules}
    out.pop("sql_dialect", None)
    return out


def spark_linker(tables: list, settings: dict):
    """A Splink linker on Spark over registered ``tables``, with a model written for DuckDB
    (``splink_inputs.linker_over``'s counterpart: link_and_dedupe across sources)."""
    import logging

    from splink import Linker

    link_type = "link_and_dedupe" if len(tables) > 1 else "dedupe_only"
    return Linker(
        tables if len(tables) > 1 else tables[0],
        {**spark_settings(settings), "link_type": link_type},
        log_level=logging.WARNING,
    )


def refine_prior(pairs, start: float, all_pairs: float) -> float:
    """``scoring.refine_prior`` over a Spark frame of scored pairs (``match_weight``): the same fixed
    point, each round's sum one aggregate on the executors (only a number comes back)."""
    from pyspark.sql import functions as F

    from orchestration.identity.scoring import LOG_BF_CLIP, prior_fixed_point

    if all_pairs <= 0 or not 0 < start < 1:
        return start
    log_bf = F.col("match_weight") - F.lit(math.log2(start / (1 - start)))
    clipped = F.least(F.greatest(log_bf, F.lit(-float(LOG_BF_CLIP))), F.lit(float(LOG_BF_CLIP)))
    factors = (
        pairs.where(F.col("match_weight").isNotNull()).select(F.pow(F.lit(2.0), clipped).alias("bf")).cache()
    )
    try:

        def expected_matches(odds: float) -> float:
            total = factors.select(
                F.sum(F.lit(odds) * F.col("bf") / (1 + F.lit(odds) * F.col("bf")))
            ).first()[0]
            return float(total or 0.0)

        return prior_fixed_point(expected_matches, start, all_pairs)
    finally:
        factors.unpersist()
