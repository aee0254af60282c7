"""`cdp generate` then `cdp run` from an empty CDP_DATA_DIR, as `make run` does."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb


def cdp(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDP_DATA_DIR": str(data_dir), "CDP_DUCKDB_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _customer_ids(data: Path) -> dict[str, str]:
    con = duckdb.connect(str(data / "warehouse" / "cdp.duckdb"), read_only=True)
    rows = con.execute("select unique_id, customer_id from identity.customer_source_records").fetchall()
    con.close()
    return dict(rows)


def test_generate_then_run_builds_the_raw_layer_and_records_the_run(tmp_path: Path) -> None:
    data = tmp_path / "cdp"
    gen = cdp("generate", "--customers", "150", "--days", "90", "--history-days", "90", data_dir=data)
    assert gen.returncode == 0, gen.stderr
    assert (data / "truth" / "identities.csv").exists()
    refused = cdp("generate", "--customers", "10", data_dir=data)
    assert refused.returncode == 2 and "--force" in refused.stderr

    run = cdp("run", data_dir=data)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "check raw/pos_tickets:rows_reconcile passed" in run.stdout
    assert "succeeded" in run.stdout and str(data / "warehouse" / "cdp.duckdb") in run.stdout
    con = duckdb.connect(str(data / "warehouse" / "cdp.duckdb"), read_only=True)
    assert con.execute("select count(*) from raw.pos_tickets").fetchall()[0][0] > 0
    assert con.execute("select count(*) from raw.load_log where status = 'quarantined'").fetchall()[0][0] == 0
    # ... and dbt built the customer 360 and the facts on top of it.
    assert con.execute("select count(*) from marts.dim_customers").fetchall()[0][0] > 0
    assert con.execute("select count(*) from marts.fct_touchpoints").fetchall()[0][0] > 0
    con.close()
    # the run is in the local Dagster instance that `make dev` opens
    assert (data / "dagster" / "dagster.yaml").exists()
    assert any((data / "dagster").rglob("*.db"))

    # Identity resolution ran: every identity-bearing record has a customer id.
    truth_rows = sum(1 for _ in (data / "truth" / "identities.csv").open()) - 1
    ids_before = _customer_ids(data)
    assert len(ids_before) == truth_rows
    evaluation = cdp("identity", "eval", data_dir=data)
    assert evaluation.returncode == 0, evaluation.stderr
    assert "customer_id (this pipeline)" in evaluation.stdout and "baseline" in evaluation.stdout
    assert "True pairs left apart:" in evaluation.stdout
    # The customer count, next to the people and the fewest customers the evidence allows.
    counts = re.search(
        r"Customers: ([\d,]+) for ([\d,]+) people .*\n"
        r"Evidence limit: ([\d,]+) customers .*; ([\d,]+) joining shared full names too\.",
        evaluation.stdout,
    )
    assert counts, evaluation.stdout
    customers, people, limit, with_names = (int(n.replace(",", "")) for n in counts.groups())
    assert customers == len(set(ids_before.values()))
    with (data / "truth" / "identities.csv").open(encoding="utf-8", newline="") as handle:
        assert people == len({row["person_id"] for row in csv.DictReader(handle)})
    assert customers >= limit >= with_names
    # The command's older name still answers, the same.
    older = cdp("eval-identity", data_dir=data)
    assert older.returncode == 0, older.stderr
    assert older.stdout == evaluation.stdout

    # A second run with nothing new loads nothing, succeeds, and keeps every customer id.
    again = cdp("run", data_dir=data)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _customer_ids(data) == ids_before

    # `cdp identity train` fits the model to these records; later runs use it and say so.
    train = cdp("identity", "train", data_dir=data)
    assert train.returncode == 0, train.stdout + train.stderr
    assert (data / "identity" / "model.json").exists()
    assert (data / "serving" / "identity" / "match_weights.html").exists()
    retrained = cdp("run", data_dir=data)
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    assert (
        f"model: trained on this warehouse's records ({data / 'identity' / 'model.json'})" in retrained.stdout
    )

    # A step that fails says why, not only Dagster's "Error occurred while executing op".
    bad_config = tmp_path / "identity.yml"
    bad_config.write_text("matching:\n  match_probabilty: 0.5\n", encoding="utf-8")
    failed = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run"],
        env={**os.environ, "CDP_DATA_DIR": str(data), "CDP_IDENTITY_CONFIG": str(bad_config)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert failed.returncode == 1
    assert "step failed: identity_resolution: IdentityConfigError:" in failed.stderr, failed.stderr
    assert "matching.match_probabilty" in failed.stderr

    # A failing check (rows lost behind the pipeline's back) makes `cdp run` exit non-zero.
    con = duckdb.connect(str(data / "warehouse" / "cdp.duckdb"))
    con.execute(
        "delete from raw.survey_responses where rowid in (select rowid from raw.survey_responses limit 1)"
    )
    con.close()
    broken = cdp("run", data_dir=data)
    assert broken.returncode == 1
    assert "check failed (critical): raw/survey_responses:rows_reconcile" in broken.stderr
    assert "FAILED" in broken.stderr
