"""Connected components of a graph of record links: the one clustering every caller uses."""

from __future__ import annotations

from splink import DuckDBAPI
from splink.clustering import cluster_pairwise_predictions_at_threshold


def connected_components(db_api: DuckDBAPI, nodes: str, edges: str) -> str:
    """Cluster ``nodes(unique_id)`` along ``edges(unique_id_l, unique_id_r, match_probability)``.

    Every edge given is a link (callers filter beforehand). Returns the name of a table with
    ``unique_id, cluster_id``, the label being Splink's (the smallest ``unique_id``), not stable.
    """
    clusters = cluster_pairwise_predictions_at_threshold(
        db_api.register(nodes),
        db_api.register(edges),
        db_api,
        node_id_column_name="unique_id",
        threshold_match_probability=0.0,
    )
    return clusters.physical_name
