"""The constrained merge walked one connected part at a time (``merge.merge_by_part``, what a Spark
run does per part) equals the global walk (``merge.merge_clusters``): the same merges with the same
labels, the same refusals with the same reasons, on seeded random graphs built to contradict
themselves often (few birth dates, phones one typo apart, shared cards and accounts, first names
that may or may not be compatible, steward cannot-links, every policy).
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from orchestration.identity import cluster, resolve
from orchestration.identity.config import CONFLICT_ATTRIBUTES, CONFLICT_POLICIES
from orchestration.identity.merge import Link, PartTooLarge, link_parts, merge_by_part, merge_clusters
from orchestration.identity.names import FirstNameFacts
from tests.test_identity_cases import load_with_cases

GRAPHS = 250
BIRTH_DATES = ["1972-04-03", "1972-04-08", "1972-03-04", "1988-03-19", "1961-11-30"]
PHONES = ["+33612345678", "+33612345687", "+33698765432", "+33700000001"]
FIRST_NAMES = ["sidonie", "sido", "gaspard", "marie", "mary", "jean"]
FACTS = FirstNameFacts(
    phonetic={"sidonie": "sidoni", "sido": "sido", "gaspard": "gaspar", "marie": "mari", "mary": "mari"},
    variants={"sidonie": ("sido",)},
)


def _graph(seed: int) -> tuple[list, list[Link], dict[str, str], dict[str, list[int]]]:
    rng = random.Random(seed)
    clusters = [f"c{i:03d}" for i in range(rng.randint(2, 60))]

    def some(values: list[str], p: float) -> list[str]:
        return rng.sample(values, rng.randint(1, 2)) if rng.random() < p else []

    attributes = [
        (
            c,
            [
                some(BIRTH_DATES, 0.4),
                some(PHONES, 0.4),
                some(["290001", "290002", "290003"], 0.2),
                some(["W1", "W2", "W3"], 0.2),
                some(FIRST_NAMES, 0.7),
            ],
        )
        for c in clusters
    ]
    # Sparse enough to make several parts, dense enough for chains and cycles.
    links = [
        Link(
            *rng.sample(clusters, 2),
            weighed=frozenset(a for a in CONFLICT_ATTRIBUTES if rng.random() < 0.3),
            unnamed_end=rng.random() < 0.3,
        )
        for _ in range(rng.randint(1, 2 * len(clusters)))
    ]
    policy = {a: rng.choice(CONFLICT_POLICIES) for a in CONFLICT_ATTRIBUTES}
    apart: dict[str, list[int]] = {}
    for number in range(1, rng.randint(1, 4)):
        for sign in (1, -1):
            for c in rng.sample(clusters, rng.randint(1, 2)):
                apart.setdefault(c, []).append(sign * number)
    return attributes, links, policy, apart


@pytest.mark.parametrize("seed", range(GRAPHS))
def test_merging_part_by_part_equals_the_global_walk(seed: int) -> None:
    attributes, links, policy, apart = _graph(seed)
    expected = merge_clusters(attributes, links, policy, FACTS, apart)
    assert merge_by_part(attributes, links, policy, FACTS, apart) == expected


def test_the_random_graphs_exercise_what_they_must() -> None:
    """Not a vacuous equality: across the graphs, several parts per graph, merges, and refusals of
    every kind happen."""
    parts, merges, reasons = [], 0, set()
    for seed in range(GRAPHS):
        attributes, links, policy, apart = _graph(seed)
        parts.append(len(set(link_parts((c for c, _ in attributes), links).values())))
        merged, refused = merge_clusters(attributes, links, policy, FACTS, apart)
        merges += len(merged)
        reasons |= {r.split(" D")[0] for _, r in refused}
    assert sum(p > 1 for p in parts) > GRAPHS // 2 and merges > 1000
    assert reasons >= {*CONFLICT_ATTRIBUTES, "first name (unknown on one record)", "steward cannot-link"}


def test_a_part_larger_than_allowed_is_a_clear_error() -> None:
    attributes = [(c, [[], [], [], [], []]) for c in "abcd"]
    links = [Link("a", "b"), Link("b", "c"), Link("c", "d")]
    assert merge_by_part(attributes, links, max_part_clusters=4) == merge_clusters(attributes, links)
    with pytest.raises(PartTooLarge, match="the part of cluster a holds 4 clusters, more than the 3"):
        merge_by_part(attributes, links, max_part_clusters=3)


def test_the_hand_written_cases_resolve_alike_part_by_part(
    tmp_path: Path, generated, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny population plus every hand-written identity case (``test_identity_cases``), resolved
    with the global walk and with the walk per part: the same clusters and the same refused links."""
    outcomes = []
    for walk in ("global", "by part"):
        if walk == "by part":
            monkeypatch.setattr(cluster, "merge_clusters", merge_by_part)
        con = duckdb.connect(str(tmp_path / f"{walk}.duckdb"))
        load_with_cases(con, generated.landing, tmp_path)
        resolve(con, log=lambda _: None)
        outcomes.append(
            (
                con.execute("select unique_id, cluster_id from identity.clusters order by all").fetchall(),
                con.execute(
                    "select unique_id_l, unique_id_r, method, guard from identity.edges order by all"
                ).fetchall(),
            )
        )
        con.close()
    (clusters, edges), (part_clusters, part_edges) = outcomes
    assert part_clusters == clusters and part_edges == edges
    # The cases do contradict: refused links are part of what is compared.
    assert any(guard and guard.startswith("conflicting") for *_, guard in edges)
