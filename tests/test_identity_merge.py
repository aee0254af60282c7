"""Constrained merging: a chain of links cannot glue two people with different values. Each case
runs through the global walk and through the walk one connected part at a time (what a Spark run
does), which must agree."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestration.identity.merge import Link, merge_by_part, merge_clusters, one_typo_apart
from orchestration.identity.names import FirstNameFacts

WALKS = pytest.mark.parametrize("merge", [merge_clusters, merge_by_part], ids=["global", "by part"])
Merge = Callable[..., tuple[dict[str, str], list[tuple[int, str]]]]


def values(birth_date=(), phone=(), card=(), account=()) -> list[list[str]]:
    return [list(birth_date), list(phone), list(card), list(account)]


@WALKS
def test_a_namesake_without_birth_date_cannot_chain_two_people_with_different_ones(merge: Merge) -> None:
    attributes = [
        ("a", values(birth_date=["1972-04-03"])),
        ("b", values()),  # a record with only the shared name
        ("c", values(birth_date=["1988-03-19"])),
    ]
    # strongest first: a-b, then b-c (refused: b now carries a's birth date)
    merged, refused = merge(attributes, [("a", "b"), ("b", "c")])
    assert {merged.get("a", "a"), merged.get("b", "b")} == {merged.get("a", "a")}
    assert merged.get("c", "c") == "c"
    assert refused == [(1, "birth_date")]


@WALKS
def test_values_one_typo_apart_agree_and_identifiers_must_be_equal(merge: Merge) -> None:
    attributes = [
        ("a", values(phone=["+33612345678"], card=["290001"])),
        ("b", values(phone=["+33612345687"])),  # two digits swapped: the same phone
        ("c", values(card=["290002"])),  # another loyalty card: another person
    ]
    merged, refused = merge(attributes, [("a", "b"), ("a", "c")])
    assert merged == {"b": "a"}
    assert refused == [(1, "loyalty_card")]


def test_one_typo_apart() -> None:
    assert one_typo_apart("1972-04-03", "1972-04-03")
    assert one_typo_apart("1972-04-03", "1972-04-08")
    assert one_typo_apart("1972-04-03", "1972-40-03")
    assert not one_typo_apart("1972-04-03", "1988-03-19")
    assert not one_typo_apart("+33612345678", "+3361234567")


POLICY = {"birth_date": "weighed", "phone": "veto", "loyalty_card": "allowed", "account_id": "allowed"}


@WALKS
def test_a_weighed_birth_date_stops_a_chain_but_not_a_link_that_was_scored_with_it(merge: Merge) -> None:
    """identity.yml's default: Splink weighed the two birth dates of a link's own records (and the
    pair still scored above the threshold); a chain through a record without one was never weighed."""
    attributes = [
        ("a", values(birth_date=["1972-04-03"])),
        ("b", values()),
        ("c", values(birth_date=["1988-03-19"])),
        ("d", values(birth_date=["1961-11-30"])),
        ("e", values(birth_date=["1961-01-05"])),
    ]
    links = [
        Link("a", "b"),
        Link("b", "c"),  # chain: b has no birth date
        Link("d", "e", weighed=frozenset({"birth_date"})),  # both records carry one: scored
    ]
    merged, refused = merge(attributes, links, POLICY)
    assert refused == [(1, "birth_date")]
    assert merged.get("e", "e") == merged.get("d", "d")


@WALKS
def test_several_accounts_and_cards_are_allowed_and_a_swapped_birth_date_agrees(merge: Merge) -> None:
    attributes = [
        ("a", values(birth_date=["1990-04-07"], card=["290001"], account=["W1"])),
        ("b", values(birth_date=["1990-07-04"], card=["290002"], account=["W2"])),
    ]
    merged, refused = merge(attributes, [Link("a", "b")], POLICY)
    assert refused == [] and merged.get("b", "b") == merged.get("a", "a")


@WALKS
def test_a_record_without_first_name_is_no_bridge_between_two_first_names(merge: Merge) -> None:
    facts = FirstNameFacts(phonetic={"sidonie": "sidoni", "gaspard": "gaspar", "sido": "sido"})
    attributes = [
        ("sidonie", [*values(), ["sidonie"]]),
        ("unnamed", [*values(), []]),
        ("gaspard", [*values(), ["gaspard"]]),
        ("sido", [*values(), ["sido"]]),
    ]
    links = [
        Link("sidonie", "unnamed", unnamed_end=True),
        Link("unnamed", "gaspard", unnamed_end=True),  # Sidonie's cluster vs Gaspard: refused
        Link("unnamed", "sido", unnamed_end=True),  # a short form of Sidonie: accepted
    ]
    merged, refused = merge(attributes, links, POLICY, facts)
    assert refused == [(1, "first name (unknown on one record)")]
    assert merged.get("gaspard", "gaspard") == "gaspard"
    assert len({merged.get(c, c) for c in ("sidonie", "unnamed", "sido")}) == 1
