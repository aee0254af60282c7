"""A full identity resolution on Spark, from the latest versions of the raw tables to the clusters:
the steps of ``resolution._resolve`` for a full run, each the DuckDB path's own query or an
equivalent shown equal by a test (``tests/test_spark_*.py``).

Not yet here: steward cannot-links (refused, ``clustering.NotOnSparkYet``), stable customer ids,
the hand-off of the tables to the DuckDB warehouse, the engine setting (docs/scale-out.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestration.identity import model
from orchestration.identity.config import IdentitySettings
from orchestration.identity.scoring import Scored
from orchestration.identity.spark import sql
from orchestration.identity.spark.clustering import cluster_all
from orchestration.identity.spark.inputs import SparkInputs, prepare_inputs
from orchestration.identity.spark.scoring import score_all, train_model
from orchestration.identity.spark.splink_api import CdpSparkAPI
from orchestration.identity.spark.standardise import register_name_rules

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class SparkResolution:
    """What a resolution on Spark produced: its tables by the DuckDB path's names, the inputs, the
    model it scored with, the scoring, and the wall seconds of each step."""

    tables: dict[str, DataFrame]
    inputs: SparkInputs
    model: dict
    scored: Scored
    seconds: dict[str, float] = field(default_factory=dict)


def resolve(
    spark: SparkSession,
    raw: Mapping[str, DataFrame],
    identity: IdentitySettings,
    saved: dict | None,
    log: Callable[[str], None] = print,
    max_part_clusters: int | None = None,
) -> SparkResolution:
    """Resolve every record of ``raw`` (the latest versions of the raw tables identity reads, by
    name: ``raw_current.pos_tickets``…) with the model ``saved`` (None: trained here, as a first
    run trains), on ``spark``."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    records = sql.identity_records(spark, raw).checkpoint(eager=True)
    step("standardise")
    exact = sql.deterministic_edges(spark, {**raw, "identity.records": records}).checkpoint(eager=True)
    step("deterministic links")
    inputs = prepare_inputs(spark, records, identity, CdpSparkAPI(spark_session=spark))
    step("named records, blocking keys, Splink inputs")
    if saved is None:
        shipped = model.read_model(model.MODEL_PATH)
        saved, _ = train_model(
            spark, inputs, identity, log, shipped and shipped["probability_two_random_records_match"]
        )
        step("train")
    frame, scored = score_all(spark, inputs, saved, identity.prior_recall, identity.scored_floor, log)
    step("score")
    variants = register_name_rules(spark, identity.first_name_variants, identity.phonetic_first_names)
    tables = {
        **raw,
        "identity.records": records,
        "identity.deterministic_edges": exact,
        "identity.blocking_keys": inputs.blocking_keys,
        "identity.scored_edges": frame,
        "identity.first_name_variants": variants,
        "work.must_links": spark.createDataFrame([], "unique_id_l string, unique_id_r string"),
    }
    clustered = cluster_all(spark, tables, identity, max_part_clusters)
    step("cluster")
    return SparkResolution({**tables, **clustered}, inputs, saved, scored, seconds)
