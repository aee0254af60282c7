"""The review queue (``identity.review``): the pairs the model is least sure of, the costliest first,
on a page a steward reads in a browser and a CSV whose answers become decisions.

On the tiny generated population, resolved in-process: the queue is ranked as documented, each
pair's waterfall adds up to its match weight and the comparison levels it reached are named, the
page renders offline in headless Chromium, and answering the queue from the truth file (a perfect
steward) then resolving again does not lower pairwise F1 and makes every answered pair what the
truth says.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.benchmarks.review_round_trip import answer_from_truth
from orchestration.identity.decisions import DecisionError, read_decisions
from orchestration.identity.evaluate import score_customer_ids
from orchestration.identity.review import apply_answers, review_queue, write_review
from tests.conftest import CHROMIUM, offline_page
from tests.conftest import customer_ids as _customer
from tests.conftest import resolve_in_process as _run

THRESHOLD = 0.5


@pytest.fixture
def reviewed(resolved: Path, tmp_path: Path) -> tuple[Path, list]:
    shutil.copy(resolved / "cdp.duckdb", tmp_path / "cdp.duckdb")
    shutil.copy(resolved / "model.json", tmp_path / "model.json")
    with duckdb.connect(str(tmp_path / "cdp.duckdb"), read_only=True) as con:
        pairs = review_queue(con, THRESHOLD, limit=40, models=(tmp_path / "model.json",))
    return tmp_path, pairs


def test_the_queue_ranks_by_what_is_at_stake_and_explains_each_score(reviewed) -> None:
    _, pairs = reviewed
    assert pairs, "the tiny population has uncertain pairs"
    # The model's doubt first (tiers), then what an answer moves.
    ranks = [(p.tier, -p.records_at_stake, -p.revenue_at_stake) for p in pairs]
    assert ranks == sorted(ranks)
    for p in pairs:
        assert p.probability >= THRESHOLD and p.tier in (1, 2, 3)
        if p.tier == 2:
            assert p.together and (p.probability < 0.8 or "pairs of records at once" in p.reason)
        if p.tier == 3:
            assert not p.together and "guard refused" in p.reason
        assert p.weights[0][0] == "prior"
        assert sum(w for _, w in p.weights) == pytest.approx(p.match_weight, abs=1e-6)
        assert p.attributes[0]["source_system"] == p.record_a.split(":")[0]
        # Each comparison names the level it reached (the run's model's label for its weight).
        assert p.levels and all(label for _, label, _ in p.levels)
        waterfall = dict(p.weights)
        assert all(waterfall.get(name, 0.0) == weight for name, _, weight in p.levels)
    # One pair per pair of customers.
    assert len({frozenset((p.customer_a, p.customer_b)) for p in pairs}) == len(pairs)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian package `chromium`)")
def test_the_review_page_renders_offline_in_headless_chromium(reviewed) -> None:
    root, pairs = reviewed
    page_file, _ = write_review(pairs, root / "review", THRESHOLD)
    with offline_page(page_file, 1200, 900) as (page, errors, requests):
        shown = page.evaluate(
            """() => [...document.querySelectorAll('section.pair')].map(s => ({
                title: s.querySelector('h2').textContent,
                rows: s.querySelectorAll('tr').length,
                bars: [...s.querySelectorAll('svg .mark')].filter(m => m.getBBox().width > 0).length,
            }))"""
        )
    assert errors == [] and requests == [page_file.as_uri()]
    assert len(shown) == len(pairs)
    for section, pair in zip(shown, pairs, strict=True):
        assert pair.record_a in section["title"] and pair.record_b in section["title"]
        assert section["rows"] > 5 and section["bars"] == len(pair.weights) + 1


def test_answers_from_the_truth_become_decisions_that_do_not_lower_f1(reviewed, generated) -> None:
    root, pairs = reviewed
    truth = generated.truth / "identities.csv"
    _, table = write_review(pairs, root / "review", THRESHOLD)
    answered = root / "answered.csv"
    counts = answer_from_truth(table, truth, answered)
    assert counts["accept"] + counts["reject"] > 0
    decisions_file = root / "decisions.jsonl"
    with duckdb.connect(str(root / "cdp.duckdb")) as con:
        before = score_customer_ids(con, truth)
        applied = apply_answers(con, decisions_file, answered, by="truth")
        assert len(applied.decisions) + len(applied.refused) == counts["accept"] + counts["reject"]
        assert applied.skipped == counts["skip"]
        _run(con, root, "reviewed")
        after = score_customer_ids(con, truth)
        ids = _customer(con)
        statuses = dict(
            con.execute("select decision_id, holds from identity.steward_decision_status").fetchall()
        )
    assert after.pairwise_f1 >= before.pairwise_f1
    assert all(statuses.values()) and len(statuses) == len(applied.decisions)
    with answered.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["answer"] != "skip":
                assert (ids[row["record_a"]] == ids[row["record_b"]]) == (row["answer"] == "accept")
    assert len(read_decisions(decisions_file).active) == len(applied.decisions)


def test_a_bad_answer_stops_before_anything_is_recorded(reviewed) -> None:
    root, pairs = reviewed
    _, table = write_review(pairs, root / "review", THRESHOLD)
    rows = list(csv.DictReader(table.open(newline="")))
    rows[0]["answer"], rows[1]["answer"] = "accept", "perhaps"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (
        duckdb.connect(str(root / "cdp.duckdb"), read_only=True) as con,
        pytest.raises(DecisionError, match=r"review.csv, line 3: answer 'perhaps' is not one of accept"),
    ):
        apply_answers(con, root / "decisions.jsonl", table)
    assert not (root / "decisions.jsonl").exists()
