"""The review round trip, measured: a steward answers the top of the review queue from the truth
file, the answers become decisions, a run applies them; pairwise F1 against the truth before and after.

    CDP_DATA_DIR=<a data folder after `cdp run`, with truth/> \\
        python -m orchestration.benchmarks.review_round_trip --pairs 50

What a perfect steward would do with the queue: each pair's answer is whether the truth file gives
its two records one person (``accept``) or two (``reject``). The gain measures the queue's ranking
and the decisions' effect together; a real steward errs, so it is an upper bound for these pairs.
The run that applies the answers is a normal ``cdp run`` (incremental: only the parts holding the
decided records are clustered again); its identity log lines say what became of each decision.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from orchestration.identity import load_identity_settings
from orchestration.identity.evaluate import score_customer_ids
from orchestration.identity.review import apply_answers, review_queue, write_review
from orchestration.settings import get_settings


def answer_from_truth(review_csv: Path, truth_file: Path, out: Path) -> dict[str, int]:
    """``out``: ``review_csv`` answered as the truth file says; returns the count of each answer."""
    person: dict[str, str] = {}
    with truth_file.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            person[f"{row['source_system']}:{row['source_record_id']}"] = row["person_id"]
    counts = {"accept": 0, "reject": 0, "skip": 0}
    with review_csv.open(newline="", encoding="utf-8") as f, out.open("w", newline="", encoding="utf-8") as g:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(g, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            a, b = person.get(row["record_a"]), person.get(row["record_b"])
            answer = "skip" if a is None or b is None else ("accept" if a == b else "reject")
            counts[answer] += 1
            writer.writerow({**row, "answer": answer, "why": "answered from the truth file"})
    return counts


def _scores(warehouse: Path, truth_file: Path) -> dict[str, float]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return score_customer_ids(con, truth_file).as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50, help="how many pairs of the queue to answer")
    options = parser.parse_args()
    settings = get_settings()
    truth = settings.truth_identities_file
    before = _scores(settings.warehouse_path, truth)
    threshold = load_identity_settings().match_probability
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        pairs = review_queue(con, threshold, options.pairs)
        folder = settings.tmp_dir / "review_round_trip"
        _, table = write_review(pairs, folder, threshold)
        answered = folder / "review_answered.csv"
        counts = answer_from_truth(table, truth, answered)
        applied = apply_answers(con, settings.steward_decisions_path, answered, by="truth file")
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run"], capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    decision_lines = [line for line in run.stdout.splitlines() if "steward decision" in line]
    after = _scores(settings.warehouse_path, truth)
    report = {
        "pairs_answered": len(pairs), "answers": counts, "decisions": len(applied.decisions),
        "not_recorded": applied.refused, "run_exit": run.returncode, "run_seconds": round(seconds, 1),
        "before": before, "after": after,
        "pairwise_f1_change": round(after["pairwise_f1"] - before["pairwise_f1"], 5),
        "run_lines_on_decisions": decision_lines,
    }  # fmt: skip
    (folder / "round_trip.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
