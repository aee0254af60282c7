"""The Spark session's checks (``identity/spark/session.py``): a master on another host with a
checkpoint directory on this machine's disk is refused before anything starts, naming both."""

from __future__ import annotations

import pytest

from orchestration.identity.spark.session import SparkSetupError, check_checkpoint_dir


@pytest.mark.parametrize(
    ("master", "directory"),
    [
        ("local[2]", "/tmp/checkpoints"),
        ("spark://localhost:7077", "/tmp/checkpoints"),
        ("spark://127.0.0.1:7077", "file:///tmp/checkpoints"),
        ("spark://cluster.example:7077", "hdfs://namenode:8020/cdp/checkpoints"),
        ("yarn", "s3a://bucket/checkpoints"),
    ],
)
def test_a_checkpoint_directory_every_node_reads_is_accepted(master: str, directory: str) -> None:
    check_checkpoint_dir(master, directory)


@pytest.mark.parametrize("directory", ["/tmp/checkpoints", "file:///tmp/checkpoints"])
def test_a_local_checkpoint_directory_with_a_remote_master_is_refused(directory: str) -> None:
    with pytest.raises(SparkSetupError, match=r"spark://cluster\.example:7077 runs executors elsewhere"):
        check_checkpoint_dir("spark://cluster.example:7077", directory)
