"""The Spark tests on a standalone Spark cluster on this machine: a master and two workers started
from the pyspark distribution, not ``local[2]``.

``local[2]`` runs the driver and the executors in one JVM, which hides what a cluster does:
executors in their own JVMs and their own Python workers, functions shipped to them, shuffles
between processes. This starts ``org.apache.spark.deploy.master.Master`` and two
``org.apache.spark.deploy.worker.Worker`` (one core, 1 GB each) on 127.0.0.1, waits until both
workers have registered, runs ``pytest -m spark`` with ``CDP_TEST_SPARK_MASTER`` pointing at the
master, and stops the cluster whatever happens. The workers run this virtualenv's Python (the
project is installed there); on a real cluster, install the package on every node (a wheel) or
ship it with ``--py-files``.

Usage: ``python -m orchestration.benchmarks.spark_standalone [--dir FOLDER]``. Exit status: pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from orchestration.settings import REPO_ROOT

MASTER_PORT, MASTER_UI_PORT = 7077, 8080
WORKERS = 2


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _alive_workers() -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{MASTER_UI_PORT}/json/", timeout=2) as response:
            state = json.load(response)
    except OSError:
        return 0
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cdp-spark-standalone"), help="logs and work")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    spark_class = str(spark_home() / "bin" / "spark-class")
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "PYSPARK_PYTHON": sys.executable}
    master_url = f"spark://127.0.0.1:{MASTER_PORT}"
    processes = []
    try:
        master_log = (args.dir / "master.log").open("w")
        processes.append(
            subprocess.Popen(
                [
                    spark_class,
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(MASTER_PORT),
                    "--webui-port",
                    str(MASTER_UI_PORT),
                ],
                env=env,
                stdout=master_log,
                stderr=subprocess.STDOUT,
            )
        )
        for i in range(WORKERS):
            log = (args.dir / f"worker-{i}.log").open("w")
            processes.append(
                subprocess.Popen(
                    [
                        spark_class,
                        "org.apache.spark.deploy.worker.Worker",
                        master_url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        "1",
                        "--memory",
                        "1g",
                        "--webui-port",
                        "0",
                        "--work-dir",
                        str(args.dir / f"work-{i}"),
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 120
        while _alive_workers() < WORKERS:
            if time.monotonic() > deadline:
                print(f"the workers did not register within 120 s: see {args.dir}", file=sys.stderr)
                return 2
            time.sleep(1)
        print(f"Spark standalone cluster: {master_url}, {WORKERS} workers alive")
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "spark", "-q", "-p", "no:cacheprovider"],
            cwd=REPO_ROOT,
            env={**env, "CDP_TEST_SPARK_MASTER": master_url},
        )
        print(
            f"pytest -m spark on {master_url}: exit {result.returncode} in {time.monotonic() - started:.0f} s"
        )
        return result.returncode
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
