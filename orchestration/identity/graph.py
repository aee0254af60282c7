"""Connected components of a graph of record links: the one clustering every caller uses."""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components as scipy_components

_names = itertools.count()


def connected_components(con: duckdb.DuckDBPyConnection, nodes: str, edges: str) -> str:
    """Cluster ``nodes(unique_id)`` along ``edges(unique_id_l, unique_id_r)``.

    Every edge given is a link (callers filter beforehand). Returns the name of a temp table with
    ``unique_id, cluster_id``, the label being the component's smallest ``unique_id`` (Splink's
    convention), not stable.

    Splink's ``cluster_pairwise_predictions_at_threshold`` iterates SQL joins until labels settle:
    2.7 s of a 21 s identity step at 100k customers. Here DuckDB numbers the records and the links,
    and scipy labels the components of that sparse graph in one pass (0.3 s at 100k).
    """
    suffix = next(_names)
    numbered, labelled = f"_cc_nodes_{suffix}", f"_cc_clusters_{suffix}"
    con.execute(
        f"create or replace temp table {numbered} as "
        f"select unique_id, (row_number() over (order by unique_id) - 1)::bigint as i "
        f"from (select distinct unique_id from {nodes})"
    )
    count = con.execute(f"select count(*) from {numbered}").fetchall()[0][0]
    links = con.execute(
        f"""
        select l.i as l, r.i as r
        from {edges} e
        join {numbered} l on l.unique_id = e.unique_id_l
        join {numbered} r on r.unique_id = e.unique_id_r
        """
    ).fetchnumpy()
    left, right = np.asarray(links["l"], dtype=np.int64), np.asarray(links["r"], dtype=np.int64)
    graph = coo_array((np.ones(len(left), dtype=np.int8), (left, right)), shape=(count, count))
    _, labels = scipy_components(graph, directed=False)
    component = pa.table({"i": np.arange(count, dtype=np.int64), "component": labels.astype(np.int64)})
    con.register("_cc_labels", component)
    try:
        con.execute(
            f"""
            create or replace temp table {labelled} as
            select n.unique_id, min(n.unique_id) over (partition by c.component) as cluster_id
            from {numbered} n join _cc_labels c using (i)
            """
        )
    finally:
        con.unregister("_cc_labels")
        con.execute(f"drop table {numbered}")
    return labelled
