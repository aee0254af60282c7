"""Splink's inputs built on Spark (``identity/spark/inputs.py``) are DuckDB's: the same plan of
fields, the same block caps chosen from the same pair counts, the same capped blocking keys for
every named record (also with the caps given, as an increment gives them) and the same input per
source (``tests/test_spark_scoring.py`` scores them). On the tiny generated population plus the
hand-written identity cases, with a budget tight enough that the caps bite."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import duckdb
import pytest

from orchestration.identity.config import load_identity_settings
from orchestration.identity.spark.inputs import prepare_inputs as spark_prepare_inputs
from orchestration.identity.spark.splink_api import CdpSparkAPI
from orchestration.identity.splink_inputs import BLOCK_CAPS, prepare_inputs
from orchestration.identity.standardise import build_identity_records
from tests.test_identity_cases import load_with_cases

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def records(generated, tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """``identity.records`` of the population plus the cases, in DuckDB."""
    con = duckdb.connect()
    load_with_cases(con, generated.landing, tmp_path_factory.mktemp("spark-inputs"))
    build_identity_records(con)
    con.execute("create schema work")
    yield con
    con.close()


def _rows(rows) -> list[tuple]:
    return sorted((tuple(r) for r in rows), key=repr)


def _both(spark, con: duckdb.DuckDBPyConnection, pairs_per_record: float):
    """Each engine's inputs from the same records (Splink's, on Spark, registered with ``api``)."""
    identity = dataclasses.replace(load_identity_settings(), pairs_per_record=pairs_per_record)
    duck = prepare_inputs(con, identity, lambda _: None, "work")
    frame = spark.createDataFrame(con.table("identity.records").to_arrow_table())
    return (
        duck,
        spark_prepare_inputs(spark, frame, identity, CdpSparkAPI(spark_session=spark)),
        frame,
        identity,
    )


# 0.3 pairs per named record: a budget tight enough that the caps bite (the default budget's are
# compared end to end, tests/test_spark_resolve.py).
@pytest.mark.parametrize("pairs_per_record", [0.3])
def test_the_inputs_on_spark_are_duckdbs(spark, records, pairs_per_record) -> None:
    con = records
    duck, got, frame, identity = _both(spark, con, pairs_per_record)
    assert got.plan == duck.plan
    assert got.blocking.describe() == duck.blocking.describe()
    if pairs_per_record < 1:
        assert min(duck.blocking.block_caps.values()) < BLOCK_CAPS[-1]
    columns = ", ".join(got.blocking_keys.columns)
    expected_keys = _rows(con.execute(f"select {columns} from identity.blocking_keys").fetchall())
    assert len(expected_keys) > 300
    assert _rows(got.blocking_keys.collect()) == expected_keys
    assert got.names == duck.names
    for name in duck.names:
        columns = ", ".join(spark.table(name).columns)
        assert _rows(spark.table(name).collect()) == _rows(
            con.execute(f"select {columns} from {name}").fetchall()
        )
    # The block sizes alone (an increment's caps given): the same keys again.
    again = spark_prepare_inputs(spark, frame, identity, CdpSparkAPI(spark_session=spark), duck.blocking)
    assert _rows(again.blocking_keys.collect()) == expected_keys
