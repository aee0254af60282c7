"""Constrained merging (issue 3): a chain of links cannot glue two people with different values."""

from __future__ import annotations

from orchestration.identity.merge import merge_clusters, one_typo_apart


def values(birth_date=(), phone=(), card=(), account=()) -> list[list[str]]:
    return [list(birth_date), list(phone), list(card), list(account)]


def test_a_namesake_without_birth_date_cannot_chain_two_people_with_different_ones() -> None:
    attributes = [
        ("a", values(birth_date=["1972-04-03"])),
        ("b", values()),  # a record with only the shared name
        ("c", values(birth_date=["1988-03-19"])),
    ]
    # strongest first: a-b, then b-c (refused: b now carries a's birth date)
    merged, refused = merge_clusters(attributes, [("a", "b"), ("b", "c")])
    assert {merged.get("a", "a"), merged.get("b", "b")} == {merged.get("a", "a")}
    assert merged.get("c", "c") == "c"
    assert refused == [(1, "birth_date")]


def test_values_one_typo_apart_agree_and_identifiers_must_be_equal() -> None:
    attributes = [
        ("a", values(phone=["+33612345678"], card=["290001"])),
        ("b", values(phone=["+33612345687"])),  # two digits swapped: the same phone
        ("c", values(card=["290002"])),  # another loyalty card: another person
    ]
    merged, refused = merge_clusters(attributes, [("a", "b"), ("a", "c")])
    assert merged == {"b": "a"}
    assert refused == [(1, "loyalty_card")]


def test_one_typo_apart() -> None:
    assert one_typo_apart("1972-04-03", "1972-04-03")
    assert one_typo_apart("1972-04-03", "1972-04-08")
    assert one_typo_apart("1972-04-03", "1972-40-03")
    assert not one_typo_apart("1972-04-03", "1988-03-19")
    assert not one_typo_apart("+33612345678", "+3361234567")
