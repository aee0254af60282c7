"""A full run's clustering on Spark: ``cluster.cluster_scope`` and ``cluster.label_parts`` step by
step, each step's DuckDB query carried over (``spark/sql.py``), the walks by connected part
(``spark/cluster.py``).

The steps, as on DuckDB: the edges with their first-name guard (``edges_sql``); clusters of the
exact links (connected components by joins); the constrained merge along the probabilistic links;
links by shared identifiers and attachments by unique value, then the merge along those; flagged
clusters; and each record's connected part, for the next increment. Results are frames by the
DuckDB path's table names (``identity.edges``, ``work.clusters``…), each checkpointed.

Not yet on Spark: the steward's cannot-links (``cluster._keep_apart``): a run given any stops
saying so. What comes to the driver: counts, the largest part, and the facts of the first names
the walk reads (phonetic key, variants), one row per distinct first name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestration.identity import cluster
from orchestration.identity.cluster import Scope
from orchestration.identity.config import CONFLICT_ATTRIBUTES, IdentitySettings
from orchestration.identity.names import facts_from_rows, first_name_facts_sql
from orchestration.identity.spark.cluster import connected_components, merge_parts
from orchestration.identity.spark.sql import run_duckdb_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

WORK = "work"


class NotOnSparkYet(RuntimeError):
    """A step identity does not run on Spark yet; the message says which."""


@dataclass
class _Tables:
    """The frames of a clustering by the DuckDB path's table names, each step adding its own."""

    spark: SparkSession
    frames: dict[str, DataFrame]

    def run(self, sql: str) -> DataFrame:
        return run_duckdb_sql(self.spark, sql, self.frames)

    def keep(self, name: str, frame: DataFrame) -> DataFrame:
        """``frame`` computed once (checkpointed) and kept as table ``name``."""
        frame = frame.checkpoint(eager=True)
        self.frames[name] = frame
        return frame


def cluster_all(
    spark: SparkSession,
    tables: Mapping[str, DataFrame],
    identity: IdentitySettings,
    max_part_clusters: int | None = None,
) -> dict[str, DataFrame]:
    """Cluster every record (``cluster.cluster_all`` on Spark). ``tables``: ``identity.records``,
    ``identity.scored_edges``, ``identity.blocking_keys``, ``identity.deterministic_edges``,
    ``identity.first_name_variants``, ``raw_current.pos_stores`` and the steward's
    ``work.must_links`` / ``work.apart``. Returns every table the DuckDB path writes:
    ``identity.edges``, ``identity.clusters``, ``identity.flagged_clusters``,
    ``identity.attachment_values``, ``identity.connected_parts``."""
    from pyspark.sql import functions as F

    if "work.apart" in tables and not tables["work.apart"].isEmpty():
        raise NotOnSparkYet("steward cannot-links are not applied on Spark yet: run identity on DuckDB")
    t = _Tables(spark, dict(tables))
    scope = Scope.everything(WORK)
    edges = t.keep(scope.edges, t.run(cluster.edges_sql(scope, identity)))
    exact = edges.where(cluster.EXACT_LINKS).select(
        F.col("unique_id_l").alias("src"), F.col("unique_id_r").alias("dst")
    )
    nodes = t.frames[scope.records].select(F.col("unique_id").alias("id"))
    components, _ = connected_components(nodes, exact)
    t.keep(f"{WORK}.clusters_deterministic", components.toDF("unique_id", "cluster_id"))
    _merge_along_links(t, scope, "clusters_deterministic", "probabilistic", identity, max_part_clusters)
    shared = t.run(cluster.shared_identifier_links_sql(scope))
    t.keep(f"{WORK}.values_used", t.run(cluster.values_used_sql(scope)))
    attached = t.run(cluster.attachment_links_sql(scope))
    t.keep(scope.edges, t.frames[scope.edges].unionByName(shared).unionByName(attached))
    # As on DuckDB: the walk continues when there is any link by a shared identifier or attachment.
    if not (shared.isEmpty() and attached.isEmpty()):
        _merge_along_links(t, scope, "clusters_all", "attached:%", identity, max_part_clusters)
    for table, query in cluster.flagged_and_clusters_sql(WORK, identity.max_cluster_size).items():
        t.keep(table, t.run(query))
    part_links = t.run(cluster.part_links_sql(scope)).toDF("src", "dst").where("dst is not null")
    parts, _ = connected_components(nodes, part_links)
    return {
        "identity.edges": t.frames[scope.edges],
        "identity.clusters": t.frames[f"{WORK}.clusters"],
        "identity.flagged_clusters": t.frames[f"{WORK}.flagged"],
        "identity.attachment_values": t.frames[f"{WORK}.values_used"].select(
            "unique_id", "cluster_id", "kind", "value", "owner"
        ),
        "identity.connected_parts": parts.toDF("unique_id", "part_id").checkpoint(eager=True),
    }


def _merge_along_links(
    t: _Tables,
    scope: Scope,
    start: str,
    methods: str,
    identity: IdentitySettings,
    max_part_clusters: int | None,
) -> None:
    """``cluster._merge_along_links`` on Spark: ``{work}.clusters_all`` from the clusters of
    ``start`` and the walk of the links of ``methods``; refused links' edges marked."""
    from pyspark.sql import functions as F

    order = [F.desc_nulls_last("match_weight"), F.col("unique_id_l"), F.col("unique_id_r")]
    # Numbered in the walk's order without one partition holding every link: the sort spreads
    # ranges over partitions, and the id grows with the partition and the row within it.
    links = t.run(cluster.links_sql(scope, start, methods)).orderBy(*order)
    links = links.withColumn("position", F.monotonically_increasing_id()).checkpoint(eager=True)
    links.createOrReplaceTempView("_links")
    start_clusters = t.frames[f"{scope.work}.{start}"]
    if links.isEmpty():
        t.keep(f"{scope.work}.clusters_all", start_clusters)
        return
    t.run(cluster.link_clusters_sql(scope, start)).checkpoint(eager=True).createOrReplaceTempView(
        "_link_clusters"
    )
    attributes = t.run(cluster.attributes_sql(scope)).toDF("cluster_id", *CONFLICT_ATTRIBUTES, "first_name")
    facts = facts_from_rows(
        t.run(first_name_facts_sql(cluster.link_first_names_sql(scope))).collect(),
        identity.phonetic_first_names,
    )
    weighed = F.filter(
        F.array(*(F.when(F.col(f"both_{a}"), F.lit(a)) for a in CONFLICT_ATTRIBUTES)), lambda a: a.isNotNull()
    )
    walked = links.select(
        "position", F.col("cluster_l").alias("left"), F.col("cluster_r").alias("right"),
        weighed.alias("weighed"), "unnamed_end",
    )  # fmt: skip
    result = merge_parts(attributes, walked, identity.conflicts, facts, None, max_part_clusters)
    result = result.checkpoint(eager=True)
    refused = (
        result.where("kind = 'refused'")
        .join(links.select("position", "unique_id_l", "unique_id_r"), "position")
        .select("unique_id_l", "unique_id_r", F.concat(F.lit("conflicting "), "conflict").alias("conflict"))
    )
    edges = t.frames[scope.edges]
    marked = (
        edges.join(refused, ["unique_id_l", "unique_id_r"], "left")
        .withColumn("guard", F.coalesce("guard", "conflict"))
        .select(*edges.columns)
    )
    t.keep(scope.edges, marked)
    merged = result.where("kind = 'merged'").select("cluster_id", "merged_into")
    t.keep(
        f"{scope.work}.clusters_all",
        start_clusters.join(merged, "cluster_id", "left").select(
            "unique_id", F.coalesce("merged_into", "cluster_id").alias("cluster_id")
        ),
    )
