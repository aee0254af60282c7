"""Clustering on Spark (``identity/spark/cluster.py``) equals the DuckDB path's: connected components
labelled by their smallest node (as ``graph.connected_components`` and a union-find give them), and
the constrained merge walked one part per task equal to the global walk (``merge.merge_clusters``)
on the seeded random graphs of ``test_identity_merge_parts``, many graphs per Spark job.
"""

from __future__ import annotations

import random

import pytest

from orchestration.identity.config import CONFLICT_ATTRIBUTES
from orchestration.identity.merge import Link, PartTooLarge, link_parts, merge_clusters
from orchestration.identity.spark.cluster import connected_components, merge_parts
from tests.test_identity_merge_parts import FACTS, _graph

pytestmark = pytest.mark.spark
POLICIES = (
    {"birth_date": "weighed", "phone": "veto", "loyalty_card": "allowed", "account_id": "allowed"},
    {"birth_date": "veto", "phone": "veto", "loyalty_card": "veto", "account_id": "veto"},
    {"birth_date": "allowed", "phone": "weighed", "loyalty_card": "veto", "account_id": "weighed"},
)
GRAPHS_PER_POLICY = 70


def test_connected_components_equal_a_union_find(spark) -> None:
    rng = random.Random(3)
    nodes = [f"n{i:04d}" for i in range(600)]
    # Chains (long paths test the rounds), stars and random edges; some nodes stay alone.
    edges = [(nodes[i], nodes[i + 1]) for i in range(0, 120)]
    edges += [(nodes[200], nodes[i]) for i in range(201, 260)]
    edges += [tuple(rng.sample(nodes[300:], 2)) for _ in range(200)]
    labels, rounds = connected_components(
        spark.createDataFrame([(n,) for n in nodes], "id string"),
        spark.createDataFrame(edges, "src string, dst string"),
    )
    got = {r["id"]: r["component"] for r in labels.collect()}
    assert got == link_parts(nodes, edges)
    # Pointer jumping: far fewer rounds than the 120-link chain's length (22 measured).
    assert rounds <= 30


def _frames(spark, graphs: list[tuple[int, list, list[Link], dict]]):
    """Several random graphs as one set of Spark frames (cluster ids and tokens prefixed by graph)."""
    attributes, links, apart, position = [], [], [], 0
    for seed, clusters, graph_links, tokens in graphs:
        for cluster_id, values in clusters:
            attributes.append((f"g{seed}:{cluster_id}", *[list(v) for v in values]))
        for link in graph_links:
            links.append(
                (
                    position,
                    f"g{seed}:{link.left}",
                    f"g{seed}:{link.right}",
                    sorted(link.weighed),
                    link.unnamed_end,
                )
            )
            position += 1
        apart += [
            (f"g{seed}:{c}", [t * 1000 + seed if t > 0 else t * 1000 - seed for t in ts])
            for c, ts in tokens.items()
        ]
    columns = ", ".join(f"{a} array<string>" for a in (*CONFLICT_ATTRIBUTES, "first_name"))
    return (
        spark.createDataFrame(attributes, f"cluster_id string, {columns}"),
        spark.createDataFrame(
            links, "position long, left string, right string, weighed array<string>, unnamed_end boolean"
        ),
        spark.createDataFrame(apart, "cluster_id string, tokens array<int>"),
        attributes,
        links,
        apart,
    )


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "all veto", "mixed"])
def test_the_merge_per_part_on_spark_equals_the_global_walk(spark, policy: dict[str, str]) -> None:
    graphs = []
    for seed in range(GRAPHS_PER_POLICY):
        clusters, graph_links, _, tokens = _graph(seed)
        graphs.append((seed, clusters, graph_links, tokens))
    attributes, links, apart, rows, link_rows, apart_rows = _frames(spark, graphs)
    result = merge_parts(attributes, links, policy, FACTS, apart).collect()
    merged = {r["cluster_id"]: r["merged_into"] for r in result if r["kind"] == "merged"}
    refused = sorted((r["position"], r["conflict"]) for r in result if r["kind"] == "refused")
    expected = merge_clusters(
        [(r[0], r[1:]) for r in rows],
        [Link(left, right, frozenset(weighed), unnamed) for _, left, right, weighed, unnamed in link_rows],
        policy,
        FACTS,
        dict(apart_rows),
    )
    assert (merged, refused) == expected
    assert len(merged) > 100 and len(refused) > 20


def test_a_part_too_large_stops_before_any_worker_walks_it(spark) -> None:
    clusters = [(c, [[], [], [], [], []]) for c in "abcd"]
    graph = [(0, clusters, [Link("a", "b"), Link("b", "c"), Link("c", "d")], {})]
    attributes, links, apart, *_ = _frames(spark, graph)
    with pytest.raises(PartTooLarge, match="the part of cluster g0:a holds 4 clusters, more than the 3"):
        merge_parts(attributes, links, max_part_clusters=3, apart=apart)
