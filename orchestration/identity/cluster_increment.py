"""Clustering an increment: only the part of the records a day touched, every other cluster kept.

An increment (``cluster_part``) clusters only the records whose result may differ from the previous
resolution's, with the steps of a full clustering (``cluster.cluster_scope``), and keeps every other
cluster, edge and attachment value as it was. That is exact, not an approximation, because every
step of the clustering only looks at records joined by an edge or by a value:

- the merge walks links in one global order (strongest first), and refuses a link from what the
  two clusters hold: the walk restricted to whole connected parts of the link graph is the walk of
  the full run on those parts;
- shared identifiers and attachments group records by a value (an e-mail, a phone, a full name at
  a store) and count the clusters using it: a part holding every record that uses a value counts
  the same clusters as the full run.

So every run keeps each record's **connected part** (``identity.connected_parts``): records joined
by any edge (refused ones too) or sharing any attachment value. An increment's part is the previous
parts of its seeds (records new, changed or gone, and both ends of every link that appeared,
vanished or changed weight) and of the records sharing a seed's new e-mail or phone. A full name
at a store is a value of a *cluster* (its stores come from all its records), known only once the
part is clustered: when a cluster of the part then uses one that a record outside it used, that
record's previous part joins and the part is clustered again.
"""

from __future__ import annotations

import duckdb

from orchestration.identity.cluster import AMBIGUOUS_SQL, Clustering, Scope, cluster_scope, label_parts
from orchestration.identity.config import IdentitySettings
from orchestration.identity.stable_ids import IDS_PENDING, IDS_PENDING_TABLE
from orchestration.identity.timing import Steps
from orchestration.warehouse import table_exists, tables_in

# What the previous resolution must have kept for an increment to cluster only its part.
PART_STATE = {"edges", "clusters", "flagged_clusters", "attachment_values", "connected_parts"}


def can_cluster_part(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds what ``cluster_part`` builds on."""
    return tables_in(con, "identity") >= PART_STATE


def _previous_values(scope: Scope) -> str:
    """The values the part's records used in the previous resolution, with the clusters of the part
    that owned each: ``(kind, value, owners)``."""
    return f"""
        select kind, value, count(distinct cluster_id) filter (where owner) as owners
        from identity.attachment_values
        where unique_id in (select unique_id from {scope.affected}) group by all
    """


def _known_values(scope: Scope) -> str:
    """What is known of the part's values before clustering: the values its records used before,
    with the part's owners then, and the seeds' e-mails and phones as if no cluster of the part owned
    them (counting none pulls more, never less). The check after clustering is the exact one."""
    seeds = f"(select unique_id from {scope.work}.seeds)"
    return f"""
        {_previous_values(scope)}
        union all
        select 'email', email, 0 from identity.records where email is not null and unique_id in {seeds}
        union all
        select 'phone', phone, 0 from identity.records where phone is not null and unique_id in {seeds}
    """


def _count_outside_owners(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """``scope.outside``: for the values the part's records could use (their e-mails, phones,
    previous values, and each of their full names at each of their stores), the clusters outside
    the part owning each."""
    con.execute(
        f"""
        create or replace table {scope.work}.possible_values as
        with part as (
            select * from identity.records where unique_id in (select unique_id from {scope.affected})
        ),
        stores as (
            select store_code as store from part where store_code is not null
            union
            select s.code_magasin from part r join raw_current.pos_stores s on cdp_std_city(s.ville) = r.city
        ),
        names as (
            select distinct first_name || ' ' || last_name as full_name from part
            where length(first_name) > 1 and last_name is not null
        )
        select kind, value from ({_known_values(scope)})
        union
        select 'name at store', n.full_name || ' @ ' || s.store from names n cross join stores s;

        create or replace table {scope.outside} as
        select v.kind, v.value, count(distinct v.cluster_id) as owners from identity.attachment_values v
        semi join {scope.work}.possible_values p on p.kind = v.kind and p.value = v.value
        where v.owner and v.unique_id not in (select unique_id from {scope.affected})
        group by all;
        """
    )


def _with_their_parts(records: str) -> str:
    """SQL: the ``unique_id`` of table ``records`` and of every record of their previous connected
    parts (``identity.connected_parts``), which the previous run's edges never leave."""
    return f"""
        select unique_id from {records}
        union
        select unique_id from identity.connected_parts
        where part_id in (
            select part_id from identity.connected_parts
            where unique_id in (select unique_id from {records})
        )"""


def _pull_holders(con: duckdb.DuckDBPyConnection, scope: Scope, values: str) -> int:
    """Add to the part the records outside it holding one of ``values`` ``(kind, value, owners)``,
    ``owners`` being the part's clusters owning it (before or after this run), unless the value is
    ambiguous (``AMBIGUOUS_OWNERS``) with the owners outside the part counted in, both before and
    after: the full run then attaches nothing with it on either side. With their previous parts;
    returns how many such holders there were."""
    work = scope.work
    con.execute(
        f"""
        create or replace table {work}.pulled_values as
        select kind, value, min(owners) as owners from ({values})
        where kind is not null and value is not null group by all;

        create or replace table {work}.outside_values as
        select v.unique_id, v.kind, v.value, v.owner, v.cluster_id from identity.attachment_values v
        semi join {work}.pulled_values p on p.kind = v.kind and p.value = v.value
        where v.unique_id not in (select unique_id from {work}.affected);

        create or replace table {work}.outside as
        with outside_owners as (
            select kind, value, count(distinct cluster_id) filter (where owner) as owners
            from {work}.outside_values group by all
        ),
        shared as (
            select o.kind, o.value from outside_owners o join {work}.pulled_values p using (kind, value)
            where o.owners + p.owners < {AMBIGUOUS_SQL.replace("kind", "o.kind")}
        )
        select distinct v.unique_id from {work}.outside_values v
        semi join shared s on s.kind = v.kind and s.value = v.value;

        insert into {work}.affected
        {_with_their_parts(f"{work}.outside")}
        except
        select unique_id from {work}.affected;
        """
    )
    return con.execute(f"select count(*) from {work}.outside").fetchall()[0][0]


def cluster_part(
    con: duckdb.DuckDBPyConnection, work: str, identity: IdentitySettings, changed: str, rescored: str
) -> Clustering:
    """Cluster only the part of the records a day affected; keep every other cluster as it was.

    ``changed(unique_id)``: the records new, changed or gone since the previous resolution;
    ``rescored(unique_id)``: the named records whose pairs were scored again. Builds on the previous
    resolution's ``identity.edges``, ``clusters``, ``flagged_clusters``, ``attachment_values`` and
    ``connected_parts``, and this run's ``identity.records``, ``scored_edges`` and
    ``deterministic_edges``.

    The seeds are the changed records and both ends of every link that appeared, vanished or
    changed weight (only pairs with a record scored again or gone can have: the others were kept).
    The part starts as the seeds' previous connected parts (``identity.connected_parts``): every
    other record's edges are the previous run's, all within its previous part. Values then: the
    part's clusters count the owners of a value outside the part with their own (``Scope.outside``);
    a value the part's records use or use no longer, held outside, brings the holder's part in
    unless it is ambiguous (``AMBIGUOUS_OWNERS``) before and after, all owners counted; the part is
    clustered again until no holder is left.
    """
    scope = Scope.part(work)
    steps = Steps()
    seeds = _find_seeds(con, work, changed, rescored, identity.match_probability)
    steps.done("seeds")
    con.execute(
        f"""
        create or replace table {work}.affected as {_with_their_parts(f"{work}.seeds")};
        """
    )
    steps.done("part")
    rounds = _cluster_until_closed(con, scope, identity, steps)
    _replace_part(con, scope, label_parts(con, scope))
    part = con.execute(f"select count(*) from {scope.records}").fetchall()[0][0]
    steps.done("writing the part")
    return Clustering(part, rounds, seeds, dict(steps))


def _find_seeds(
    con: duckdb.DuckDBPyConnection, work: str, changed: str, rescored: str, threshold: float
) -> int:
    """``{work}.seeds``: the records ``changed``, and both ends of every link that appeared,
    vanished or changed weight (probabilistic links of a record ``changed`` or ``rescored``, exact
    links that differ from the previous run's). Returns how many."""
    con.execute(
        f"""
        create or replace table {work}.repaired as
        select unique_id from {changed} union select unique_id from {rescored};

        create or replace table {work}.changed_edges as
        select unique_id_l, unique_id_r from identity.edges
        where method = 'probabilistic'
          and (unique_id_l in (select unique_id from {work}.repaired)
               or unique_id_r in (select unique_id from {work}.repaired))
        union all
        select unique_id_l, unique_id_r from identity.scored_edges
        where match_probability >= {threshold}
          and (unique_id_l in (select unique_id from {work}.repaired)
               or unique_id_r in (select unique_id from {work}.repaired))
        union all
        select unique_id_l, unique_id_r from (
            (select unique_id_l, unique_id_r, 'deterministic:' || rule as method
             from identity.deterministic_edges
             except
             select unique_id_l, unique_id_r, method from identity.edges where method like 'deterministic:%')
            union all
            (select unique_id_l, unique_id_r, method from identity.edges where method like 'deterministic:%'
             except
             select unique_id_l, unique_id_r, 'deterministic:' || rule from identity.deterministic_edges)
        );

        create or replace table {work}.seeds as
        select unique_id from {changed}
        union select unique_id_l from {work}.changed_edges
        union select unique_id_r from {work}.changed_edges;
        """
    )
    return con.execute(f"select count(*) from {work}.seeds").fetchall()[0][0]


def _cluster_until_closed(
    con: duckdb.DuckDBPyConnection, scope: Scope, identity: IdentitySettings, steps: Steps
) -> int:
    """Grow the part (``{work}.affected``) by the holders of its values and cluster it, until a
    clustering pulls no holder in; returns the rounds of clustering."""
    work = scope.work
    rounds = 0
    while True:
        # Values the part's records used or use, held outside it: their holders' parts join, until
        # none is left (known before clustering: e-mails, phones, the previous values).
        while _pull_holders(con, scope, _known_values(scope)):
            pass
        steps.done("part")
        rounds += 1
        _count_outside_owners(con, scope)
        con.execute(
            f"create or replace table {scope.records} as select * from identity.records "
            f"where unique_id in (select unique_id from {work}.affected)"
        )
        cluster_scope(con, scope, identity)
        steps.done("clustering the part")
        # A full name at a store is a value of a cluster, known once the part is clustered: one
        # held outside brings its holder's part in, and the part is clustered again.
        pulled = _pull_holders(con, scope, _values_before_and_after(scope))
        steps.done("part")
        if not pulled:
            return rounds


def _values_before_and_after(scope: Scope) -> str:
    """SQL: every value the part's clusters own before or after this clustering, with the fewer of
    their owners in the part before and after (none when it did not use the value)."""
    return f"""
            with after as (
                select kind, value, count(distinct cluster_id) filter (where owner) as owners
                from {scope.work}.values_used group by all
            ),
            before as ({_previous_values(scope)})
            select kind, value, least(coalesce(a.owners, 0), coalesce(b.owners, 0)) as owners
            from after a full join before b using (kind, value)
        """


def _replace_part(con: duckdb.DuckDBPyConnection, scope: Scope, parts: str) -> None:
    """Replace the part's records in the identity tables with this clustering's, and list them as
    pending customer ids."""
    work = scope.work
    con.execute(
        f"""
        delete from identity.edges
        where unique_id_l in (select unique_id from {work}.affected)
           or unique_id_r in (select unique_id from {work}.affected);
        insert into identity.edges select * from {scope.edges};

        delete from identity.clusters where unique_id in (select unique_id from {work}.affected);
        insert into identity.clusters select * from {work}.clusters;

        -- A cluster's label is one of its records: a flagged cluster of the part is labelled by one.
        delete from identity.flagged_clusters where cluster_id in (select unique_id from {work}.affected);
        insert into identity.flagged_clusters select * from {work}.flagged;

        delete from identity.attachment_values where unique_id in (select unique_id from {work}.affected);
        insert into identity.attachment_values
        select unique_id, cluster_id, kind, value, owner from {work}.values_used;

        delete from identity.connected_parts where unique_id in (select unique_id from {work}.affected);
        insert into identity.connected_parts select * from {parts};
        """
    )
    # Only these records' clusters changed: customer ids are assigned to them alone. Absent, the
    # table means every record is pending (a full clustering not yet given ids): left so.
    if table_exists(con, "identity", IDS_PENDING_TABLE):
        con.execute(
            f"insert into {IDS_PENDING} select unique_id from {work}.affected "
            f"except select unique_id from {IDS_PENDING}"
        )
