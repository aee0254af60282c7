"""The Spark session identity runs on: master, configuration and checkpoint directory, checked
before anything starts.

Splink on Spark cuts its long plans by writing intermediate tables under the checkpoint directory
(Parquet) and reading them back. On a cluster, every executor writes there and the driver reads
what they wrote: a directory on the driver's local disk is one each executor sees on its own disk,
and reports of Splink on Spark tell of lineage blow-ups and out-of-memory errors that end up traced
to it. So a master on another host with a local checkpoint directory is refused at once, naming
both; a local master (``local[…]``) or a standalone master on this host may use one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class SparkSetupError(ValueError):
    """A Spark configuration identity cannot run on; the message says what to change."""


def check_checkpoint_dir(master: str, checkpoint_dir: str) -> None:
    """Refuse a checkpoint directory on the driver's disk with a master on another host."""
    scheme = urlparse(checkpoint_dir).scheme
    local_dir = scheme in ("", "file")
    if not local_dir or master.startswith("local"):
        return
    host = urlparse(master).hostname or ""
    if host in LOCAL_HOSTS:
        return
    raise SparkSetupError(
        f"checkpoint directory {checkpoint_dir} is on this machine's disk, but the Spark master "
        f"{master} runs executors elsewhere, which would each write their own copy: give a "
        "directory every node reads (hdfs://, s3a://, abfss://, dbfs:/)"
    )


def spark_session(master: str, checkpoint_dir: str, conf: Mapping[str, str] | None = None) -> SparkSession:
    """A session for identity: in-memory catalogue (Derby allows one JVM: dbt-spark may hold the
    Hive one), the session in UTC, Python workers on this interpreter when the master is on this
    machine, the standardisation functions registered."""
    check_checkpoint_dir(master, checkpoint_dir)
    from pyspark.sql import SparkSession

    from orchestration.identity.spark.standardise import register

    if master.startswith("local") or (urlparse(master).hostname or "") in LOCAL_HOSTS:
        # Workers on this machine run this interpreter: the one with this project and its packages.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = (
        SparkSession.builder.master(master)
        .appName("cdp-identity")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setCheckpointDir(checkpoint_dir)
    register(session)
    return session
