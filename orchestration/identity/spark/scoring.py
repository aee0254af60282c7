"""Training and scoring on Spark: ``train.fit`` and ``scoring.score_all``'s steps with Splink's
Spark backend (``CdpSparkAPI``), over the inputs of ``spark/inputs.py``.

The model stays written for DuckDB: Splink on Spark trains and scores with its SQL rewritten
(``splink_api.spark_settings``), and the trained m and u are put back into the DuckDB model, so a
model trained on either engine scores on both. What comes back to the driver is the model, a count
per rule and one sum per round of the prior's refinement.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestration.identity import model, train
from orchestration.identity.config import EXPLAIN_MIN_PROBABILITY, IdentitySettings
from orchestration.identity.scoring import (
    PROBABILITY_SQL,
    REFINE_MARGIN_BITS,
    Scored,
    pairs_per_rule,
    refined_weight_sql,
    threshold_weight,
)
from orchestration.identity.spark import sql
from orchestration.identity.spark.inputs import SparkInputs
from orchestration.identity.spark.splink_api import refine_prior, spark_linker

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def with_parameters(untrained: dict, trained: dict) -> dict:
    """The DuckDB model ``untrained`` with the prior, m and u of ``trained`` (the same model
    trained on Spark: the same comparisons and levels, in the same order, its SQL Spark's)."""
    fitted = {c["output_column_name"]: c["comparison_levels"] for c in trained["comparisons"]}
    out = json.loads(json.dumps(untrained))
    out["probability_two_random_records_match"] = trained["probability_two_random_records_match"]
    for comparison in out["comparisons"]:
        levels = fitted[comparison["output_column_name"]]
        for level, trained_level in zip(comparison["comparison_levels"], levels, strict=True):
            for key in ("m_probability", "u_probability"):
                if key in trained_level:
                    level[key] = trained_level[key]
    return out


def train_model(
    spark: SparkSession,
    inputs: SparkInputs,
    identity: IdentitySettings,
    log: Callable[[str], None],
    fallback_prior: float | None = None,
) -> tuple[dict, train.TrainingReport]:
    """``train.fit`` on Spark: the model fitted to the inputs' records (DuckDB SQL, weights made
    monotone), and the training report. Raises ``train.TrainingError`` as ``fit`` does."""
    untrained = model.settings(inputs.plan).create_settings_dict("duckdb")
    linker = spark_linker(inputs.tables, untrained)
    report = train.fit(sql.value_of(spark), linker, inputs.plan, identity, log, fallback_prior)
    return train.monotone_weights(with_parameters(untrained, linker.misc.save_model_to_json())), report


def score_all(
    spark: SparkSession,
    inputs: SparkInputs,
    saved: dict,
    prior_recall: float,
    floor: float,
    log: Callable[[str], None],
) -> tuple[DataFrame, Scored]:
    """``scoring.score_all`` on Spark: every compared pair scored, the prior measured on the data
    and refined on the compared pairs, the pairs from probability ``floor`` on (a frame of
    ``identity.scored_edges``' columns, checkpointed)."""
    from pyspark.sql import functions as F

    plan, named = inputs.plan, inputs.plan.records
    value_of = sql.value_of(spark)
    comparisons = pairs_per_rule(value_of, plan)
    scorer = spark_linker(inputs.tables, model.fit_to_plan(saved, plan))
    started = time.perf_counter()
    prior = train.estimate_prior(
        value_of, scorer, plan, prior_recall, saved["probability_two_random_records_match"], log
    )
    lowest = min(threshold_weight(EXPLAIN_MIN_PROBABILITY) - REFINE_MARGIN_BITS, threshold_weight(floor))
    predictions = scorer.inference.predict(threshold_match_weight=lowest).as_spark_dataframe()
    lam0 = scorer.misc.save_model_to_json()["probability_two_random_records_match"]
    lam = refine_prior(predictions, lam0, named * (named - 1) / 2)
    prior += f"; refined on the compared pairs: {lam0:.3g} → {lam:.3g}"
    log(f"prior refined on the {named:,} named records' compared pairs: {lam0:.3g} → {lam:.3g}")
    scored = (
        predictions.withColumn("match_weight", F.expr(refined_weight_sql(lam0, lam)))
        .withColumn("match_probability", F.expr(PROBABILITY_SQL))
        .where(F.col("match_weight") >= threshold_weight(floor))
        .checkpoint(eager=True)
    )
    pairs = scored.count()
    return scored, Scored(pairs, pairs, lam, prior, comparisons, time.perf_counter() - started)
