"""What Splink works on, built on Spark: the named records, the plan of the fields they populate,
the capped blocking keys and one Splink input per linked source, from ``splink_inputs``' own
queries (``size_tiers_sql``, ``pairs_by_cap_sql``, ``keyed_sql``…) carried over by ``spark/sql.py``.

Every step's result is a temporary view of the session by the name of the DuckDB path's temporary
table (``splink_named``, ``splink_tiered``, ``splink_keyed``), checkpointed where later steps read it
several times. What comes back to the driver is small whatever the data: the field counts (one row)
and, per capped key, the pairs every block cap would compare (one row per cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestration.identity import model
from orchestration.identity.config import IdentitySettings
from orchestration.identity.spark import sql
from orchestration.identity.splink_inputs import (
    BLOCKING_KEYS_SQL,
    LINKED_SOURCES,
    PERSON_EVIDENCE,
    PLAN_SQL,
    Blocking,
    choose_blocking,
    keyed_sql,
    pairs_by_cap,
    pairs_by_cap_sql,
    plan_from_counts,
    plan_tiers,
    size_tiers_sql,
    source_input_sql,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class SparkInputs:
    """What Splink on Spark works on (``splink_inputs.Inputs``' counterpart): the plan, the block
    caps, the registered non-empty inputs (``names`` their views) and the keyed records."""

    plan: model.ModelPlan
    blocking: Blocking
    tables: list
    names: list[str]
    keyed: DataFrame
    blocking_keys: DataFrame

    @property
    def scorable(self) -> bool:
        """Whether there is anything to score (``Inputs.scorable``)."""
        return bool(self.tables and self.plan.comparisons)


def _view(spark: SparkSession, name: str, query: str, checkpoint: bool = False) -> DataFrame:
    """DuckDB ``query`` run on Spark as temporary view ``name`` (checkpointed: computed once, its
    lineage cut, when later steps read it several times)."""
    frame = sql.run_duckdb_sql(spark, query, {})
    if checkpoint:
        frame = frame.checkpoint(eager=True)
    frame.createOrReplaceTempView(name)
    return frame


def prepare_inputs(
    spark: SparkSession,
    records: DataFrame,
    identity: IdentitySettings,
    api,
    blocking: Blocking | None = None,
) -> SparkInputs:
    """``splink_inputs.prepare_inputs`` on Spark from ``identity.records`` (a frame): the plan, the
    block caps (``blocking``, when given, fixes them: only block sizes are counted), the keyed
    records and one input per source that has records, registered with ``api`` (``CdpSparkAPI``)."""
    sql.named_records(spark, records).checkpoint(eager=True).createOrReplaceTempView("splink_named")
    plan = plan_from_counts(tuple(spark.sql(sql.to_spark_sql(PLAN_SQL)).first()), identity.min_field_share)
    tiers = plan_tiers(plan)
    evidence = None if blocking is not None else [f for f in PERSON_EVIDENCE if f in plan.present]
    queries = size_tiers_sql(tiers, evidence)
    for i, (table, query) in enumerate(queries.items()):
        _view(spark, table, query, checkpoint=i == len(queries) - 1)
    if blocking is None:
        table = {}
        for key, ts in tiers.items():
            table[key] = pairs_by_cap(spark.sql(sql.to_spark_sql(pairs_by_cap_sql(key, len(ts)))).collect())
        blocking = choose_blocking(table, plan.records, identity.pairs_per_record)
    keyed = _view(spark, "splink_keyed", keyed_sql(tiers, blocking), checkpoint=True)
    spark.catalog.dropTempView("splink_tiers")
    spark.catalog.dropTempView("splink_tiered")
    blocking_keys = sql.run_duckdb_sql(spark, BLOCKING_KEYS_SQL, {})
    tables, names = [], []
    for source in LINKED_SOURCES:
        name = f"splink_{source}"
        frame = _view(spark, name, source_input_sql(source))
        if not frame.isEmpty():
            tables.append(api.register(name, dataset_display_name=source))
            names.append(name)
    return SparkInputs(plan, blocking, tables, names, keyed, blocking_keys)
