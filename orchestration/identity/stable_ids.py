"""Stable ``customer_id``s on top of clusters whose labels change from run to run.

Splink labels a cluster with its smallest record id, which moves as soon as records arrive or
clusters change. Customer ids must not: BI tools, CRM exports and history refer to them. So each
run maps the new clusters onto the previous run's ids (``identity.customer_source_records``):

- a cluster whose records had no id yet gets a new one, derived from its smallest record id
  (``C`` + 12 hex digits of its MD5), so the same input always gives the same ids;
- a cluster whose records all had the same id keeps it (new records join an existing customer);
- a cluster that gathers records of several previous customers keeps the **oldest** of their ids;
  the others are recorded as ``merged`` into it;
- a previous customer whose records now sit in several clusters keeps its id in the cluster holding
  most of them; the other parts get new ids, recorded as ``split``.

Every creation, merge and split is appended to ``identity.customer_id_history`` (an id graph, as
Segment keeps one), with the run that made it.

Only the records whose clusters may have changed are mapped again: ``identity.ids_pending`` lists
them (an incremental clustering adds the part it clustered again; a full clustering drops the
table, which means every record). Every other cluster is the one that got its id earlier, with the
same records, so it keeps it; a previous customer's records are all in the part or all outside it
(the part is made of whole connected parts, and a cluster never leaves its part). The list empties
when the ids are written, so a run that stops between clustering and ids leaves it for the next.
"""

from __future__ import annotations

import duckdb

from orchestration.warehouse import table_exists

# Records whose customer ids must be assigned again (see above); absent: every record.
IDS_PENDING_TABLE = "ids_pending"
IDS_PENDING = f"identity.{IDS_PENDING_TABLE}"
HISTORY_DDL = """
create table if not exists identity.customer_id_history (
    changed_at timestamptz not null,
    run_id varchar,
    change varchar not null,           -- created | merged | split
    customer_id varchar not null,      -- the id concerned (created, absorbed, or split off)
    into_customer_id varchar,          -- merged: the surviving id; split: the id it came from
    records bigint
)
"""
REGISTRY_DDL = """
create table if not exists identity.customer_registry (
    customer_id varchar primary key,
    created_at timestamptz not null,
    retired_at timestamptz,
    retired_into varchar
)
"""


def assign_stable_ids(con: duckdb.DuckDBPyConnection, run_id: str = "") -> dict[str, int]:
    """Turn ``identity.clusters`` into ``identity.customer_source_records`` with stable ids.

    Returns the ids ``created``, ``merged`` and ``split`` this run, and the ``customers`` in all."""
    con.execute(HISTORY_DDL)
    con.execute(REGISTRY_DDL)
    has_previous = table_exists(con, "identity", "customer_source_records")
    partial = has_previous and table_exists(con, "identity", IDS_PENDING_TABLE)
    _map_clusters(con, has_previous, partial)
    _avoid_retired_ids(con, run_id)
    con.execute("begin transaction")
    try:
        _record_changes(con, run_id)
        _write_records(con, partial)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    counts = con.execute(
        """
        select
            (select count(*) from _assignment where is_new),
            (select count(*) from identity.customer_id_history where change = 'merged' and run_id = $1),
            (select count(*) from identity.customer_id_history where change = 'split' and run_id = $1),
            (select count(distinct customer_id) from identity.customer_source_records)
        """,
        [run_id],
    ).fetchall()[0]
    return dict(zip(("created", "merged", "split", "customers"), counts, strict=True))


def stable_ids_settled(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every record has its customer id: ids were assigned, and no record waits for one
    (a run that stopped between clustering and ids leaves some pending)."""
    if not (
        table_exists(con, "identity", "customer_source_records")
        and table_exists(con, "identity", IDS_PENDING_TABLE)
    ):
        return False
    return con.execute(f"select count(*) from {IDS_PENDING}").fetchall()[0][0] == 0


def _pending(partial: bool, column: str = "unique_id", keyword: str = "where") -> str:
    """SQL restricting ``column`` to the pending records when only they are mapped again
    (``partial``), else nothing: ``where unique_id in (…)``, ``and unique_id_l in (…)``."""
    return f"{keyword} {column} in (select unique_id from {IDS_PENDING})" if partial else ""


def _map_clusters(con: duckdb.DuckDBPyConnection, has_previous: bool, partial: bool) -> None:
    """Temp tables mapping the clusters to map (all, or the pending records') onto the previous
    ids: ``_overlap`` (records of each previous id per cluster), ``_home`` (where each previous id
    stays), ``_kept`` (the previous ids staying in each cluster, oldest first) and ``_assignment``
    (each cluster's id, and whether it is new)."""
    within = _pending(partial)
    previous = (
        f"select unique_id, customer_id from identity.customer_source_records {within}"
        if has_previous
        else "select null::varchar as unique_id, null::varchar as customer_id where false"
    )
    con.execute(
        f"""
        create or replace temp table _prev as {previous};
        create or replace temp table _clusters as select * from identity.clusters {within};
        -- how many records of each previous customer each new cluster holds
        create or replace temp table _overlap as
        select c.cluster_id, p.customer_id, count(*) as n, min(c.unique_id) as first_record
        from _clusters c join _prev p using (unique_id)
        group by all;

        -- the cluster where each previous id stays: the one holding most of its records
        create or replace temp table _home as
        select customer_id, cluster_id from (
            select customer_id, cluster_id,
                   row_number() over (partition by customer_id order by n desc, first_record) as k
            from _overlap
        ) where k = 1;

        -- per cluster, the previous ids staying there, oldest first
        create or replace temp table _kept as
        select h.cluster_id, h.customer_id,
               row_number() over (
                   partition by h.cluster_id order by r.created_at nulls last, h.customer_id
               ) as age_rank
        from _home h left join identity.customer_registry r using (customer_id);

        create or replace temp table _assignment as
        with sizes as (
            select cluster_id, min(unique_id) as first_record, count(*) as records
            from _clusters group by all
        ),
        survivor as (select cluster_id, customer_id from _kept where age_rank = 1)
        select s.cluster_id, s.records,
               coalesce(v.customer_id, 'C' || left(md5(s.first_record), 12)) as customer_id,
               v.customer_id is null as is_new
        from sizes s left join survivor v using (cluster_id);
        """
    )


def _avoid_retired_ids(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """A new cluster whose smallest record once anchored another customer id (after a split) gets
    an id derived from its smallest record and the run instead."""
    clash = con.execute(
        """
        select count(*) from _assignment a join identity.customer_registry r using (customer_id)
        where a.is_new
        """
    ).fetchall()[0][0]
    if clash:
        con.execute(
            """
            update _assignment set customer_id = 'C' || left(md5(customer_id || ':' || ?), 12)
            where is_new and customer_id in (select customer_id from identity.customer_registry)
            """,
            [run_id],
        )


def _record_changes(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Append the ids created, merged and split to ``identity.customer_id_history``, and keep the
    registry of ids (created, retired into another)."""
    con.execute(
        """
        insert into identity.customer_id_history
        select now(), ?, 'created', customer_id, null, records from _assignment where is_new
        """,
        [run_id],
    )
    con.execute(
        """
        insert into identity.customer_id_history
        select now(), ?, 'merged', k.customer_id, a.customer_id, o.n
        from _kept k join _assignment a using (cluster_id)
        join _overlap o on o.customer_id = k.customer_id and o.cluster_id = k.cluster_id
        where k.customer_id <> a.customer_id
        """,
        [run_id],
    )
    con.execute(
        """
        insert into identity.customer_id_history
        select now(), ?, 'split', a.customer_id, o.customer_id, o.n
        from _overlap o join _home h using (customer_id)
        join _assignment a on a.cluster_id = o.cluster_id
        where o.cluster_id <> h.cluster_id and a.customer_id <> o.customer_id
        """,
        [run_id],
    )
    con.execute(
        """
        insert into identity.customer_registry
        select customer_id, now(), null, null from _assignment where is_new;

        update identity.customer_registry set retired_at = now(), retired_into = m.into_id
        from (
            select k.customer_id, a.customer_id as into_id
            from _kept k join _assignment a using (cluster_id)
            where k.customer_id <> a.customer_id
        ) m
        where customer_registry.customer_id = m.customer_id;
        """
    )


def _write_records(con: duckdb.DuckDBPyConnection, partial: bool) -> None:
    """``identity.customer_source_records``: every record mapped (or, ``partial``, the pending
    ones) with its customer id, how it was linked and with what confidence; the pending list
    emptied."""
    within = _pending(partial)
    records = f"""
        with record_edges as (
            select unique_id_l as unique_id, method, match_probability from identity.edges
            where guard is null {_pending(partial, "unique_id_l", "and")}
            union all
            select unique_id_r, method, match_probability from identity.edges
            where guard is null {_pending(partial, "unique_id_r", "and")}
        ),
        evidence as (
            select unique_id,
                   bool_or(method not like 'probabilistic') as has_exact_link,
                   bool_or(method = 'steward:must-link') as has_steward_link,
                   max(match_probability) filter (where method = 'probabilistic') as best_probability
            from record_edges group by unique_id
        )
        select a.customer_id, r.source_system, r.source_record_id, r.unique_id,
               case when a.records = 1 then 'singleton'
                    when e.has_steward_link then 'steward'
                    when e.has_exact_link then 'deterministic'
                    else 'probabilistic' end as match_method,
               case when a.records = 1 then null
                    when e.has_exact_link then 1.0
                    else e.best_probability end as match_confidence,
               starts_with(c.cluster_id, 'flagged:') as in_flagged_cluster,
               r.seen_at
        from identity.records r
        join _clusters c using (unique_id)
        join _assignment a using (cluster_id)
        left join evidence e using (unique_id)
        """
    if partial:
        con.execute(
            f"""
            delete from identity.customer_source_records {within};
            insert into identity.customer_source_records {records};
            delete from {IDS_PENDING};
            """
        )
    else:
        con.execute(
            f"""
            create or replace table identity.customer_source_records as {records};
            create or replace table {IDS_PENDING} (unique_id varchar primary key);
            """
        )
