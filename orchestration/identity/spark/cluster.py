"""Clustering on Spark: connected components by joins (no driver, no GraphFrames), and the
constrained merge one connected part per task (``merge.merge_by_part``'s argument, distributed).

The DuckDB path numbers the records and hands the graph to scipy (``graph.connected_components``),
then walks every link in one Python process (``merge.merge_clusters``). Neither holds at 100 million
customers. Here:

- **connected components**: every node starts labelled by itself; each round, a node takes the
  smallest label among its own and its neighbours' (one hop), then the label of its label (pointer
  jumping), until no label changes. The label is the component's smallest node id, as
  ``graph.connected_components`` gives. The jump shortens long paths: a chain of 120 links settles
  in 22 rounds instead of 120 (``tests/test_spark_cluster.py``); identity's parts are short. The
  only thing brought to the driver is a count per round.
- **constrained merge**: the clusters and links are grouped by connected part, and each part is
  walked by the unchanged ``merge.merge_clusters`` in a Python worker
  (``groupBy(part).applyInPandas``), its links in their global order. The merges and refusals are
  those of the global walk (``merge.merge_by_part`` says why). A part larger than the limit stops
  the run with an error naming it, before any worker runs out of memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from orchestration.identity.config import CONFLICT_ATTRIBUTES
from orchestration.identity.merge import Link, PartTooLarge, merge_clusters
from orchestration.identity.names import FirstNameFacts

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

# What the merge of a part returns: a cluster merged into another, or a link refused.
MERGE_RESULT_SCHEMA = "kind string, cluster_id string, merged_into string, position long, conflict string"


def connected_components(
    nodes: DataFrame,
    edges: DataFrame,
    checkpoint: Callable[[DataFrame], DataFrame] | None = None,
    max_rounds: int = 100,
) -> tuple[DataFrame, int]:
    """``nodes(id)`` labelled along ``edges(src, dst)`` (undirected): ``(id, component)``, the
    component being its smallest ``id``; and the rounds it took. ``checkpoint`` cuts the plan's
    lineage each round (default: ``localCheckpoint``)."""
    from pyspark.sql import functions as F

    cut = checkpoint or (lambda frame: frame.localCheckpoint())
    both = edges.select("src", "dst").union(
        edges.select(F.col("dst").alias("src"), F.col("src").alias("dst"))
    )
    both = cut(both.where(F.col("src") != F.col("dst")).distinct())
    labels = cut(nodes.select("id").distinct().select("id", F.col("id").alias("component")))
    for rounds in range(1, max_rounds + 1):
        hop = both.join(labels.withColumnRenamed("id", "src"), "src").select(
            F.col("dst").alias("id"), "component"
        )
        nearest = labels.unionByName(hop).groupBy("id").agg(F.min("component").alias("component"))
        # Pointer jumping: a node takes its label's own (smaller or equal) label.
        of_label = nearest.select(F.col("id").alias("component"), F.col("component").alias("jumped"))
        updated = cut(
            nearest.join(of_label, "component", "left").select(
                "id", F.least("component", F.coalesce("jumped", "component")).alias("component")
            )
        )
        changed = (
            updated.join(labels.withColumnRenamed("component", "before"), "id")
            .where(F.col("component") != F.col("before"))
            .count()
        )
        labels = updated
        if changed == 0:
            return labels, rounds
    raise RuntimeError(f"connected components did not settle in {max_rounds} rounds")


def merge_parts(
    attributes: DataFrame,
    links: DataFrame,
    policy: Mapping[str, str] | None = None,
    first_names: FirstNameFacts | None = None,
    apart: DataFrame | None = None,
    max_part_clusters: int | None = None,
    checkpoint: Callable[[DataFrame], DataFrame] | None = None,
) -> DataFrame:
    """``merge.merge_clusters`` over Spark frames, one connected part per group.

    ``attributes(cluster_id, birth_date, phone, loyalty_card, account_id, first_name)``: arrays of
    each cluster's values; ``links(position, left, right, weighed, unnamed_end)``: ``weighed`` the
    array of attributes both records carry; ``apart(cluster_id, tokens)``: the steward
    cannot-links' tokens. Returns ``MERGE_RESULT_SCHEMA`` rows: ``merged`` (``cluster_id`` joined
    ``merged_into``) and ``refused`` (the link at ``position``, what contradicted).
    """
    from pyspark.sql import functions as F

    edges = links.select(F.col("left").alias("src"), F.col("right").alias("dst"))
    parts, _ = connected_components(attributes.select(F.col("cluster_id").alias("id")), edges, checkpoint)
    parts = parts.withColumnRenamed("id", "cluster_id").withColumnRenamed("component", "part")
    if max_part_clusters is not None:
        largest = parts.groupBy("part").count().orderBy(F.desc("count"), "part").limit(1).collect()
        if largest and largest[0]["count"] > max_part_clusters:
            raise PartTooLarge(largest[0]["part"], largest[0]["count"], max_part_clusters)
    clusters = attributes.join(parts, "cluster_id")
    clusters = (
        clusters.join(apart, "cluster_id", "left")
        if apart is not None
        else clusters.withColumn("tokens", F.lit(None).cast("array<int>"))
    )
    rows = clusters.select(
        "part",
        F.lit("cluster").alias("row"),
        "cluster_id",
        *CONFLICT_ATTRIBUTES,
        "first_name",
        "tokens",
        F.lit(None).cast("long").alias("position"),
        F.lit(None).cast("string").alias("left"),
        F.lit(None).cast("string").alias("right"),
        F.lit(None).cast("array<string>").alias("weighed"),
        F.lit(None).cast("boolean").alias("unnamed_end"),
    ).unionByName(
        links.join(parts.withColumnRenamed("cluster_id", "left"), "left").select(
            "part",
            F.lit("link").alias("row"),
            F.lit(None).cast("string").alias("cluster_id"),
            *(F.lit(None).cast("array<string>").alias(a) for a in (*CONFLICT_ATTRIBUTES, "first_name")),
            F.lit(None).cast("array<int>").alias("tokens"),
            "position",
            "left",
            "right",
            "weighed",
            "unnamed_end",
        )
    )
    walk = _part_walk(dict(policy or {}), first_names)
    return rows.groupBy("part").applyInPandas(walk, MERGE_RESULT_SCHEMA)


def _part_walk(
    policy: dict[str, str], first_names: FirstNameFacts | None
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The function a worker runs on one part's rows (its clusters and its links)."""

    def walk(rows: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        clusters = rows[rows["row"] == "cluster"]
        links = rows[rows["row"] == "link"].sort_values("position")
        attributes = [
            (
                r.cluster_id,
                [
                    list(getattr(r, a)) if getattr(r, a) is not None else []
                    for a in (*CONFLICT_ATTRIBUTES, "first_name")
                ],
            )
            for r in clusters.itertuples(index=False)
        ]
        apart = {
            r.cluster_id: list(r.tokens) for r in clusters.itertuples(index=False) if r.tokens is not None
        }
        walked = [
            Link(r.left, r.right, frozenset(r.weighed if r.weighed is not None else ()), bool(r.unnamed_end))
            for r in links.itertuples(index=False)
        ]
        merged, refused = merge_clusters(attributes, walked, policy, first_names, apart)
        positions = links["position"].tolist()
        out = [("merged", c, into, None, None) for c, into in merged.items()]
        out += [("refused", None, None, positions[local], conflict) for local, conflict in refused]
        return pd.DataFrame(out, columns=["kind", "cluster_id", "merged_into", "position", "conflict"])

    return walk
