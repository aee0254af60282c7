"""Identity on Spark against identity on DuckDB, on one landing folder: every table of a full run
compared, and each engine's time per step.

``python -m orchestration.benchmarks.spark_identity LANDING [--master local[2]] [--out FILE]
[--shuffle-partitions 8]``

Loads the exports into an in-memory DuckDB warehouse, resolves every record there (a full run; the
model trained on the records as a first run trains it, written to a temporary folder), then runs
``identity/spark/resolve.py`` with the model DuckDB scored with, from the same latest versions of
the raw tables, and compares: records (every column), exact links, blocking keys, the prior, the
scored pairs (set and largest difference of match weight), edges with their guards and refusals,
clusters (every record's label), flagged clusters, connected parts. Spark's event log is written
beside ``--out`` (per-stage executor time, shuffle, spill); the largest pull of rows to the driver
during the Spark run and the driver's peak memory are recorded. Prints and writes one JSON document.

The raw tables reach Spark from DuckDB through the driver (Arrow): a benchmark's shortcut, not
the way a cluster reads its inputs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration.exports import ALL_TABLES
from orchestration.identity import model
from orchestration.identity.config import load_identity_settings
from orchestration.identity.resolution import ResolutionConfig, resolve
from orchestration.identity.standardise import READ_TABLES
from orchestration.ingest.loader import load_table

# What is compared, by table: the columns, and whether a float column may differ by rounding.
COMPARED = {
    "identity.deterministic_edges": "unique_id_l, unique_id_r, rule",
    "identity.blocking_keys": None,  # every column
    "identity.edges": "unique_id_l, unique_id_r, method, guard",
    "identity.clusters": "unique_id, cluster_id",
    "identity.flagged_clusters": "cluster_id, records",
    "identity.attachment_values": "unique_id, cluster_id, kind, value, owner",
    "identity.connected_parts": "unique_id, part_id",
}


def _differences(con: duckdb.DuckDBPyConnection, table: str, frame, columns: str | None) -> dict:
    """Rows of DuckDB's ``table`` and Spark's ``frame`` on ``columns``: counts, and rows in one only."""
    columns = columns or ", ".join(frame.columns)
    con.register("_spark", frame.selectExpr(*columns.split(", ")).toArrow())
    duck = f"select {columns} from {table}"
    only_duckdb = con.execute(f"select count(*) from ({duck} except all select * from _spark)").fetchall()[0][
        0
    ]
    only_spark = con.execute(f"select count(*) from (select * from _spark except all {duck})").fetchall()[0][
        0
    ]
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    con.unregister("_spark")
    return {"rows": rows, "only_duckdb": only_duckdb, "only_spark": only_spark}


@contextmanager
def driver_pulls() -> Iterator[dict]:
    """While in the block, every pull of rows to the driver (``collect``, ``toArrow``,
    ``toPandas``: what ``first``, ``take`` and Splink's pandas results go through) is counted, and
    the driver's resident memory sampled every 0.1 s: ``{"largest": rows, "pulls": n,
    "peak_rss_mb": MB}``."""
    from pyspark.sql import DataFrame

    seen = {"largest": 0, "pulls": 0, "peak_rss_mb": 0.0}
    originals = {name: getattr(DataFrame, name) for name in ("collect", "toArrow", "toPandas")}

    def counted(method):
        def pull(self, *args, **kwargs):
            out = method(self, *args, **kwargs)
            seen["pulls"] += 1
            seen["largest"] = max(seen["largest"], out.num_rows if hasattr(out, "num_rows") else len(out))
            return out

        return pull

    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            status = Path("/proc/self/status").read_text()
            kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            seen["peak_rss_mb"] = max(seen["peak_rss_mb"], kb / 1024)

    sampler = threading.Thread(target=sample, daemon=True)
    for name, method in originals.items():
        setattr(DataFrame, name, counted(method))
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join()
        for name, method in originals.items():
            setattr(DataFrame, name, method)


def compare(con: duckdb.DuckDBPyConnection, tables: dict) -> dict[str, dict]:
    """Each table of a full run on DuckDB (``con``) against Spark's (``tables``, frames by name): its
    rows, and the rows only one engine has; the scored pairs with their largest difference of match
    weight."""
    compared = {table: _differences(con, table, tables[table], cols) for table, cols in COMPARED.items()}
    records = tables["identity.records"]
    compared["identity.records"] = _differences(
        con, "identity.records", records, ", ".join(c for c in records.columns if c != "loaded_at")
    )
    con.register("_scored", tables["identity.scored_edges"].select(
        "unique_id_l", "unique_id_r", "match_weight").toArrow())  # fmt: skip
    pairs = con.execute(
        """
        select count(*) filter (where d.unique_id_l is null), count(*) filter (where s.unique_id_l is null),
               count(*), max(abs(d.match_weight - s.match_weight))
        from identity.scored_edges d full join _scored s using (unique_id_l, unique_id_r)
        """
    ).fetchall()[0]
    con.unregister("_scored")
    compared["identity.scored_edges"] = {
        "rows": pairs[2], "only_spark": pairs[0], "only_duckdb": pairs[1],
        "max_abs_match_weight_difference": pairs[3],
    }  # fmt: skip
    return compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--out", type=Path, default=Path("spark_identity.json"))
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cdp-spark-identity-"))
    identity = load_identity_settings()

    con = duckdb.connect()
    for spec in ALL_TABLES:
        load_table(con, spec, args.landing, work / "quarantine", log=lambda _: None)
    trained = work / "model.json"
    started, cpu = time.perf_counter(), time.process_time()
    duck = resolve(con, ResolutionConfig(identity, trained_model=trained), log=lambda _: None, full=True)
    duck_seconds = {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu, **duck.seconds}
    saved = model.read_model(trained) or model.read_model(model.MODEL_PATH)

    from orchestration.identity.spark.resolve import resolve as resolve_on_spark
    from orchestration.identity.spark.session import spark_session

    events = args.out.with_suffix(".events")
    events.mkdir(parents=True, exist_ok=True)
    spark = spark_session(
        args.master,
        str(work / "checkpoints"),
        {
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": str(args.shuffle_partitions),
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": str(events.resolve()),
            "spark.driver.memory": "4g",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    read = [f"raw_current.{t}" for t in ("pos_stores", *READ_TABLES)]
    raw = {name: spark.createDataFrame(con.table(name).to_arrow_table()) for name in read}
    started = time.perf_counter()
    with driver_pulls() as driver:
        got = resolve_on_spark(spark, raw, identity, saved, log=lambda _: None, max_part_clusters=100_000)
    spark_seconds = {"wall": time.perf_counter() - started, **got.seconds}

    compared = compare(con, got.tables)
    result = {
        "landing": str(args.landing),
        "master": args.master,
        "records": duck.records,
        "named_records": got.inputs.plan.records,
        "scored_pairs": duck.scored_pairs,
        "prior": {"duckdb": duck.prior, "spark": got.scored.prior_source},
        "compared": compared,
        "identical": all(c["only_duckdb"] == 0 and c["only_spark"] == 0 for c in compared.values()),
        "seconds": {"duckdb": duck_seconds, "spark": spark_seconds},
        # During the Spark resolution only: the largest pull of rows to the driver, the number of
        # pulls, and the driver's peak resident memory (this process also holds the DuckDB run).
        "driver": driver,
        "event_log": str(events),
    }
    spark.stop()
    text = json.dumps(result, indent=2, default=str)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
