"""Identity evaluation metrics (issue 3, first part) against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.identity.evaluate import load_truth, score


def test_pairwise_and_bcubed_scores_match_hand_computation(tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    # Person A has records a1 a2 a3, person B has b1 b2, person C has c1.
    truth.write_text(
        "source_system,source_record_id,person_id\ns,a1,A\ns,a2,A\ns,a3,A\ns,b1,B\ns,b2,B\ns,c1,C\n",
        encoding="utf-8",
    )
    con = duckdb.connect()
    load_truth(con, truth)
    # Predicted: {a1, a2}, {a3, b1, b2}; c1 unknown to the clustering (a singleton).
    con.execute(
        "create table clusters as select * from (values "
        "('s:a1', 'x'), ('s:a2', 'x'), ('s:a3', 'y'), ('s:b1', 'y'), ('s:b2', 'y')) t(unique_id, cluster_id)"
    )
    s = score(con, "clusters")
    # Predicted pairs: 1 + 3 = 4; true pairs: 3 + 1 = 4; correct: (a1,a2), (b1,b2) = 2.
    assert s.records == 6
    assert s.pairwise_precision == pytest.approx(2 / 4)
    assert s.pairwise_recall == pytest.approx(2 / 4)
    assert s.pairwise_f1 == pytest.approx(0.5)
    # B-cubed precision per record: a1 1, a2 1, a3 1/3, b1 2/3, b2 2/3, c1 1 -> 14/3 / 6
    assert s.bcubed_precision == pytest.approx((1 + 1 + 1 / 3 + 2 / 3 + 2 / 3 + 1) / 6)
    # B-cubed recall per record: a1 2/3, a2 2/3, a3 1/3, b1 1, b2 1, c1 1
    assert s.bcubed_recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1 + 1) / 6)


def test_truth_file_without_required_columns_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "truth.csv"
    bad.write_text("system,id,person\ns,1,A\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks column"):
        load_truth(duckdb.connect(), bad)
