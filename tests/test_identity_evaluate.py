"""Identity evaluation metrics (issue 3, first part) against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.identity.evaluate import customer_counts, load_truth, missed_pairs, score


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


def _truth_of(people: dict[str, list[str]], tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A connection with ``_truth`` loaded from a truth file of ``people`` (person -> record ids of
    source system ``s``)."""
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "source_system,source_record_id,person_id\n"
        + "".join(f"s,{r},{p}\n" for p, rs in people.items() for r in rs),
        encoding="utf-8",
    )
    con = duckdb.connect()
    load_truth(con, truth)
    return con


def test_missed_pairs_are_broken_down_by_what_the_two_parts_share(tmp_path: Path) -> None:
    people = {"A": ["a1", "a2", "a3", "a4"], "B": ["b1", "b2"], "C": ["c1", "c2"], "D": ["d1", "d2"]}
    con = _truth_of(people, tmp_path)
    con.execute(
        "create table records as select * from (values "
        # unique_id, email, phone, birth_date, street, postcode, first_name, last_name
        "('s:a1', 'jd@free.fr', null, null, null, null, 'jean', 'dupont'),"
        "('s:a2', null, '+33611111111', null, null, null, null, null),"
        "('s:a3', 'jd@free.fe', null, null, null, null, null, null),"  # one typo from a1's
        "('s:a4', null, null, null, null, null, 'jean', 'dupont'),"
        "('s:b1', null, null, null, null, null, 'marie', 'durand'),"
        "('s:b2', null, null, null, null, null, 'durand', 'marie'),"  # swapped names
        "('s:c1', null, null, null, null, null, 'luc', 'petit'),"
        "('s:c2', null, null, null, null, null, 'anne', 'petit'),"
        "('s:d1', null, null, date '1970-01-01', null, null, null, null)"
        # d2 is unknown to the records and to the clustering
        ") t(unique_id, email, phone, birth_date, street, postcode, first_name, last_name)"
    )
    con.execute(
        "create table clusters as select * from (values "
        "('s:a1', 'x'), ('s:a2', 'x'), ('s:a3', 'y'), ('s:a4', 'z'), ('s:b1', 'b1'), ('s:b2', 'b2'),"
        "('s:c1', 'c1'), ('s:c2', 'c2'), ('s:d1', 'd1')) t(unique_id, cluster_id)"
    )
    missed = missed_pairs(con, "clusters", "records")
    # {a1 a2} | {a3}: a typo'd e-mail, 2 pairs; {a1 a2} | {a4}: the full name, 2 pairs;
    # {a3} | {a4}: nothing, 1; b: swapped full name, 1; c: surname, 1; d: nothing, 1.
    assert missed.as_dict() == {"total": 8, "identifier": 2, "full_name": 3, "surname": 1, "nothing": 2}
    # The breakdown counts exactly the pairs the score misses.
    s = score(con, "clusters")
    assert s.pairwise_recall == pytest.approx(1 - 8 / (6 + 1 + 1 + 1))


def test_customer_counts_and_evidence_limits_match_hand_computation(tmp_path: Path) -> None:
    people = {
        "A": ["a1", "a2", "a3", "a4"],
        "B": ["b1", "b2"],
        "C": ["c1"],
        "D": ["d1", "d2"],
        "E": ["e1", "e2"],
        "F": ["f1", "f2", "f3"],
    }
    con = _truth_of(people, tmp_path)
    con.execute(
        "create table records as select * from (values "
        # unique_id, email, phone, birth_date, street, postcode, loyalty_card, account_id,
        # first_name, last_name
        "('s:a1', 'jd@free.fr', null, null, '1 rue haute', '75001', null, null, 'jean', 'dupont'),"
        "('s:a2', null, '+33611111111', null, null, null, null, null, null, null),"
        "('s:a3', 'jd@free.fe', null, null, null, null, null, null, null, null),"  # one typo from a1's
        # two edits from a2's phone, a1's street at another postcode: nothing to trust
        "('s:a4', null, '+33611111122', null, '1 rue haute', '69001', null, null, null, null),"
        "('s:b1', null, null, null, null, null, null, 'acc-7', 'marie', 'durand'),"
        "('s:b2', null, null, null, null, null, null, 'acc-7', null, null),"
        # C shares a1's e-mail and B's customer: evidence between two people never counts
        "('s:c1', 'jd@free.fr', null, null, null, null, null, null, null, null),"
        "('s:d1', null, null, null, null, null, null, null, 'luc', 'petit'),"
        "('s:d2', null, null, null, null, null, null, null, 'petit', 'luc'),"  # only the full name
        "('s:e1', null, null, null, null, null, 'card-9', null, null, null),"
        "('s:e2', null, null, null, null, null, 'card-9', null, null, null),"
        "('s:f1', null, null, date '1970-01-01', null, null, null, null, null, null),"
        "('s:f2', null, null, date '1970-01-01', '2 rue basse', '13001', null, null, null, null),"
        "('s:f3', null, null, null, '2 rue basse', '13001', null, null, null, null)"
        ") t(unique_id, email, phone, birth_date, street, postcode, loyalty_card, account_id,"
        " first_name, last_name)"
    )
    # A split into three customers x y z; customer m holds B and C; e1 unknown to the clustering.
    con.execute(
        "create table clusters as select * from (values "
        "('s:a1', 'x'), ('s:a2', 'x'), ('s:a3', 'y'), ('s:a4', 'z'), ('s:b1', 'm'), ('s:c1', 'm'),"
        "('s:b2', 'n'), ('s:d1', 'd1'), ('s:d2', 'd2'), ('s:e2', 'e'),"
        "('s:f1', 'f1'), ('s:f2', 'f2'), ('s:f3', 'f3')) t(unique_id, cluster_id)"
    )
    counts = customer_counts(con, "clusters", "records")
    # Customers: x y z m n d1 d2 e, e1 alone, f1 f2 f3 = 12 for 6 people. Split: A B D E F;
    # merging: m. Identifiers join x-y (e-mail one typo apart), m-n (account), e-e1 (loyalty card),
    # f1-f2 (birth date) and f2-f3 (street at one postcode): 12 - 5 = 7; d1-d2 share only a
    # full name (swapped), so 6 with full names.
    assert counts.as_dict() == {
        "customers": 12,
        "people": 6,
        "people_split": 5,
        "ids_merging_people": 1,
        "evidence_limit": 7,
        "evidence_limit_with_full_names": 6,
    }
