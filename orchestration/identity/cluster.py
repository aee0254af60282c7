"""Clustering: from scored pairs and exact links to clusters.

The steps (docs/identity.md, "The run, step by step", 8 to 10): the **guard** on first names over the
scored pairs, **connected components** of the deterministic links, the **constrained merge** along
the probabilistic links (``merge``), **shared identifiers** and **attachments by unique value**,
then the constrained merge along those, and **flagged clusters** (``cluster_scope``).

A full run clusters every record (``cluster_all``). An increment clusters only the part of the
records a day touched, with the same steps, and keeps every other cluster (``cluster_increment``,
which says why that is exact). Every run keeps each record's **connected part** (``label_parts``)
for the next increment to start from.

Writes ``identity.edges``, ``identity.clusters``, ``identity.flagged_clusters``,
``identity.attachment_values`` (every value each record used in attachments) and
``identity.connected_parts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from orchestration.identity import decisions
from orchestration.identity.config import CONFLICT_ATTRIBUTES, IdentitySettings
from orchestration.identity.graph import connected_components
from orchestration.identity.merge import Link, merge_clusters
from orchestration.identity.names import first_name_facts
from orchestration.identity.stable_ids import IDS_PENDING

MERGED_SCHEMA = pa.schema([("cluster_id", pa.string()), ("merged_into", pa.string())])
REFUSED_SCHEMA = pa.schema([("position", pa.int64()), ("conflict", pa.string())])
# The guard of a scored pair whose first names cannot be one person's (a household).
FIRST_NAME_GUARD = "different first names"
# Clusters holding a value (as owners: named records) from which the value is ambiguous for good:
# an attachment needs at most one owner, a shared identifier exactly two.
AMBIGUOUS_OWNERS = {"email": 3, "phone": 3, "name at store": 2}
# The edges the first clustering joins without a walk: exact identifiers and steward must-links.
EXACT_LINKS = f"method like 'deterministic:%' or method = '{decisions.STEWARD_METHOD}'"
# The columns after the two records of a link made by a rule (sure, unweighed, never guarded),
# typed and named as the edges' (both engines add them to the edges by name or position).
LINK_COLUMNS = (
    "cast(1.0 as double) as match_probability, cast(null as double) as match_weight, "
    "{} as method, cast(null as varchar) as guard"
)
AMBIGUOUS_SQL = "case kind " + " ".join(f"when '{k}' then {n}" for k, n in AMBIGUOUS_OWNERS.items()) + " end"


@dataclass(frozen=True)
class Scope:
    """Where a clustering reads and writes: ``records`` (the records to cluster), ``edges`` (the
    links among them, written here), ``work`` (the schema of intermediate tables); ``affected``: a
    table of the ``unique_id`` of the part (None: every record, a full run)."""

    records: str
    edges: str
    work: str
    affected: str | None = None
    # Per value (kind, value) the part's records could use, the clusters outside the part owning
    # it (``owners``): counted with the part's own, as the full run counts all of them.
    outside: str | None = None

    @classmethod
    def everything(cls, work: str) -> Scope:
        return cls("identity.records", "identity.edges", work)

    @classmethod
    def part(cls, work: str) -> Scope:
        return cls(
            f"{work}.part_records", f"{work}.part_edges", work, f"{work}.affected", f"{work}.outside_owners"
        )


@dataclass(frozen=True)
class Clustering:
    """What a clustering did: the records it clustered and how many times (an increment whose part
    grew after its first clustering clusters it again), for the run's log."""

    records: int
    rounds: int = 1
    seeds: int = 0
    # Wall seconds of each phase of an increment's clustering.
    seconds: dict[str, float] = field(default_factory=dict)


def _build_edges(con: duckdb.DuckDBPyConnection, scope: Scope, identity: IdentitySettings) -> None:
    """``scope.edges``: ``edges_sql``."""
    con.execute(f"create or replace table {scope.edges} as {edges_sql(scope, identity)}")


def edges_sql(scope: Scope, identity: IdentitySettings) -> str:
    """Every link among the scope's records, the probabilistic ones guarded on
    first names (``guard``: why a link is not used; null when it is; ``first_names.guard``).

    The guard keeps a household apart (same surname, address, e-mail, different first names). Two
    records giving one birth date are not two members of a household (twins aside): their first
    names differ by a replacement or a bad typo, and ``unless_same_birth_date`` lets Splink's weight
    decide. The birth date is the one Splink compared (parts as delivered, placeholders removed).
    """
    match_probability = identity.match_probability
    if identity.first_name_guard == "off":
        guarded = "false"
    elif identity.first_name_guard == "always":
        guarded = "i.fn_l is not null and not coalesce(p.same_mobile, false)"
    else:
        guarded = (
            "i.fn_l is not null and not coalesce(p.same_mobile, false) "
            "and not coalesce(p.same_birth_date, false)"
        )

    def within(alias: str) -> str:
        if scope.affected is None:
            return ""
        return (
            f"and {alias}unique_id_l in (select unique_id from {scope.affected}) "
            f"and {alias}unique_id_r in (select unique_id from {scope.affected})"
        )

    return f"""
        with pairs as (
            select s.unique_id_l, s.unique_id_r, s.match_probability, s.match_weight,
                   l.first_name as fn_l, l.last_name as ln_l, r.first_name as fn_r, r.last_name as ln_r,
                   l.phone = r.phone and cdp_is_mobile(l.phone) as same_mobile,
                   damerau_levenshtein(bl.birth_date_compared, br.birth_date_compared) <= 1
                   or bl.birth_date_compared = left(br.birth_date_compared, 4)
                       || right(br.birth_date_compared, 2) || substr(br.birth_date_compared, 5, 2)
                   as same_birth_date
            from identity.scored_edges s
            join {scope.records} l on l.unique_id = s.unique_id_l
            join {scope.records} r on r.unique_id = s.unique_id_r
            left join identity.blocking_keys bl on bl.unique_id = s.unique_id_l
            left join identity.blocking_keys br on br.unique_id = s.unique_id_r
            where s.match_probability >= {match_probability} {within("s.")}
        ),
        -- The name rule is costly (sounds, dictionary), and most pairs repeat a few name pairs:
        -- it is evaluated once per distinct pair of differing first names.
        name_pairs as (
            select distinct fn_l, ln_l, fn_r, ln_r from pairs where fn_l <> fn_r
        ),
        incompatible as (
            select fn_l, ln_l, fn_r, ln_r from name_pairs
            where not cdp_names_compatible(fn_l, ln_l, fn_r, ln_r)
        )
        select p.unique_id_l, p.unique_id_r, p.match_probability, p.match_weight, 'probabilistic' as method,
               case when {guarded} then '{FIRST_NAME_GUARD}' end as guard
        from pairs p
        left join incompatible i
            on i.fn_l = p.fn_l and i.fn_r = p.fn_r
           and i.ln_l is not distinct from p.ln_l and i.ln_r is not distinct from p.ln_r
        union all
        select unique_id_l, unique_id_r, 1.0, null, 'deterministic:' || rule, null
        from identity.deterministic_edges
        where true {within("")}
        union all
        select unique_id_l, unique_id_r, 1.0, null, '{decisions.STEWARD_METHOD}', null
        from {scope.work}.must_links
        where unique_id_l in (select unique_id from {scope.records})
          and unique_id_r in (select unique_id from {scope.records})
        """


def _outside(scope: Scope, alias: str) -> tuple[str, str]:
    """A join to the owners outside the scope of the values of ``alias``, and their number (0 in a
    full run)."""
    if scope.outside is None:
        return "", "0"
    return (
        f" left join {scope.outside} x on x.kind = {alias}.kind and x.value = {alias}.value",
        "coalesce(any_value(x.owners), 0)",
    )


def _attach_by_unique_value(con: duckdb.DuckDBPyConnection, scope: Scope) -> int:
    """Attach records whose only evidence is one value that a single customer holds.

    Splink cannot give a high probability on one matching value alone, yet that value is the only
    evidence there is. So, after a first clustering:

    - a nameless record (only an e-mail or a phone) joins the one cluster of named records using the
      same e-mail (or phone); if no named record uses it, the nameless records sharing it join
      each other;
    - a record left on its own, or in a cluster known by nothing but names (and phones), joins the
      one cluster known by more (an e-mail, card, account or birth date) that holds exactly the same
      full name (first name more than an initial) *at the same store*. A cluster is at a store when
      one of its records was there (a till ticket, a pickup, a service ticket, the CRM's preferred
      store) or when it lives in the store's city.

    A value several clusters use (a household e-mail, a common name at that store) is ambiguous:
    nothing is attached. A full name alone is not enough: at 100k customers the one other cluster
    holding a name was the right person less than half the time, while the same name at the same
    store was right 77 % of the time. Attachments then go through the same conflict checks
    as probabilistic links.

    Every value used here is kept in ``{work}.values_used``: an increment closes its part over them.
    """
    _values_used(con, scope)
    con.execute(f"insert into {scope.edges} {attachment_links_sql(scope)}")
    return con.execute(f"select count(*) from {scope.edges} where method like 'attached:%'").fetchall()[0][0]


def attachment_links_sql(scope: Scope) -> str:
    """The links of ``_attach_by_unique_value`` (edges' columns), from ``{work}.values_used``."""
    work = scope.work
    outside_join, outside_owners = _outside(scope, "u")
    return f"""
        with owners as (
            select u.kind, u.value,
                   count(distinct u.cluster_id) filter (where u.owner) + {outside_owners} as owner_clusters,
                   coalesce(min(u.unique_id) filter (where u.owner),
                            min(u.unique_id) filter (where u.candidate and u.pooled)) as anchor
            from {work}.values_used u{outside_join} group by u.kind, u.value
        )
        select distinct least(v.unique_id, o.anchor) as unique_id_l,
               greatest(v.unique_id, o.anchor) as unique_id_r, {LINK_COLUMNS.format("'attached:' || v.kind")}
        from {work}.values_used v join owners o using (kind, value)
        where v.candidate and o.owner_clusters <= 1 and v.unique_id <> o.anchor"""


def _values_used(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """``{work}.values_used``: per record of the scope, the values it may be attached by or holds
    for its cluster (its e-mail and phone; a full name at a store of its cluster)."""
    con.execute(f"create or replace table {scope.work}.values_used as {values_used_sql(scope)}")


def values_used_sql(scope: Scope) -> str:
    """``_values_used``' rows, from ``{work}.clusters_all``."""
    work = scope.work
    return f"""
        with clusters as (
            select c.cluster_id, count(*) = 1 as single,
                   count(coalesce(r.email, r.loyalty_card, r.account_id, r.birth_date::varchar)) = 0
                       as name_only
            from {work}.clusters_all c join {scope.records} r using (unique_id)
            group by c.cluster_id
        ),
        records as (
            select r.*, c.cluster_id, k.single, k.name_only,
                   r.first_name is null and r.last_name is null as nameless,
                   case when length(r.first_name) > 1 then r.first_name || ' ' || r.last_name end
                       as full_name
            from {scope.records} r
            join {work}.clusters_all c using (unique_id)
            join clusters k using (cluster_id)
        ),
        cluster_stores as (
            select cluster_id, store_code from records where store_code is not null
            union
            select r.cluster_id, s.code_magasin
            from records r join raw_current.pos_stores s on cdp_std_city(s.ville) = r.city
        )
        -- kind, value, candidate (may be attached), owner (holds the value), pooled (candidates
        -- with no owner join each other)
        select unique_id, cluster_id, 'email' as kind, email as value, nameless as candidate,
               not nameless as owner, true as pooled
        from records where email is not null
        union all
        select unique_id, cluster_id, 'phone', phone, nameless, not nameless, true
        from records where phone is not null
        union all
        select unique_id, cluster_id, 'name at store', full_name || ' @ ' || store_code, true, false,
               false
        from records where (single or name_only) and full_name is not null and store_code is not null
        union all
        select distinct min(r.unique_id) over (partition by r.cluster_id), r.cluster_id,
               'name at store', r.full_name || ' @ ' || s.store_code, false, true, false
        from records r join cluster_stores s using (cluster_id)
        where not r.name_only and r.full_name is not null"""


def _link_by_shared_identifier(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """Link two clusters that alone share an e-mail or a mobile number, under compatible names.

    Splink weighs an exact e-mail by how often the value occurs, and one person's own records make a
    personal e-mail look common: at 100k customers an e-mail held by 14 records of one person, with
    "G. Martin" against "Gilbert Martin", scores 0.29. Here the question is asked of clusters instead
    of records: when exactly two clusters use the value, and every pair of their names using it could
    be one person's (``cdp_names_compatible``), they are linked. A household e-mail used by two
    people has two different first names and is left alone; a value used by three or more clusters
    is ambiguous and is left alone too.
    """
    con.execute(f"insert into {scope.edges} {shared_identifier_links_sql(scope)}")


def shared_identifier_links_sql(scope: Scope) -> str:
    """The links of ``_link_by_shared_identifier`` (edges' columns), from ``{work}.clusters_all``."""
    work = scope.work
    outside_join, outside_owners = _outside(scope, "u")
    return f"""
        with used as (
            select r.unique_id, c.cluster_id, 'email' as kind, r.email as value, r.first_name, r.last_name
            from {scope.records} r join {work}.clusters_all c using (unique_id)
            where r.email is not null and coalesce(r.first_name, r.last_name) is not null
            union all
            select r.unique_id, c.cluster_id, 'phone', r.phone, r.first_name, r.last_name
            from {scope.records} r join {work}.clusters_all c using (unique_id)
            where cdp_is_mobile(r.phone) and coalesce(r.first_name, r.last_name) is not null
        ),
        two_clusters as (
            select u.kind, u.value, min(u.cluster_id) as cluster_a, max(u.cluster_id) as cluster_b
            from used u{outside_join}
            group by u.kind, u.value having count(distinct u.cluster_id) + {outside_owners} = 2
        ),
        sides as (
            select t.kind, t.value, u.cluster_id = t.cluster_a as side_a, u.unique_id, u.first_name,
                   u.last_name
            from two_clusters t join used u using (kind, value)
        )
        select least(min(a.unique_id), min(b.unique_id)) as unique_id_l,
               greatest(min(a.unique_id), min(b.unique_id)) as unique_id_r,
               {LINK_COLUMNS.format("'attached:shared ' || a.kind")}
        from sides a join sides b on a.kind = b.kind and a.value = b.value and a.side_a and not b.side_a
        group by a.kind, a.value
        having bool_and(coalesce(cdp_names_compatible(a.first_name, a.last_name, b.first_name, b.last_name),
                                 false))"""


def _merge_along_links(
    con: duckdb.DuckDBPyConnection, scope: Scope, start: str, methods: str, identity: IdentitySettings
) -> None:
    """``clusters_all``: the clusters of table ``start`` joined along links without contradiction.

    The links are the unrefused edges whose method is LIKE ``methods``, walked strongest first (by
    match weight); a link whose clusters contradict (``merge``, policies from ``identity.yml``) is
    refused and its edge marked with what contradicted in ``guard``.
    """
    links = _links_to_walk(con, scope, start, methods)
    con.execute(f"create or replace temp table _link_clusters as {link_clusters_sql(scope, start)}")
    attributes = con.execute(attributes_sql(scope)).fetchall()
    facts = first_name_facts(con, link_first_names_sql(scope), identity.phonetic_first_names)
    merged, refused = merge_clusters(
        ((row[0], row[1:]) for row in attributes), links, identity.conflicts, facts,
        _apart(con, scope, "_link_clusters"),
    )  # fmt: skip
    _apply_merge(con, scope, start, merged, refused)


def link_clusters_sql(scope: Scope, start: str) -> str:
    """Temp table ``_link_clusters``: the records of the clusters of ``start`` a link of ``_links``
    joins (the clusters the walk reads)."""
    return f"""
        select c.unique_id, c.cluster_id
        from {scope.work}.{start} c
        where c.cluster_id in (select cluster_l from _links union select cluster_r from _links)"""


def attributes_sql(scope: Scope) -> str:
    """Per cluster of ``_link_clusters``, the values of each attribute the conflict rules compare
    (in ``CONFLICT_ATTRIBUTES``' order), then its first names of more than an initial."""
    return f"""
        select c.cluster_id,
               list(distinct strftime(r.birth_date, '%Y-%m-%d')) filter (where r.birth_date is not null),
               list(distinct r.phone) filter (where r.phone is not null),
               list(distinct r.loyalty_card) filter (where r.loyalty_card is not null),
               list(distinct r.account_id) filter (where r.account_id is not null),
               list(distinct r.first_name) filter (where length(r.first_name) > 1)
        from _link_clusters c join {scope.records} r using (unique_id)
        group by c.cluster_id"""


def link_first_names_sql(scope: Scope) -> str:
    """The first names of the records of ``_link_clusters`` (``names.first_name_facts``)."""
    return f"select r.first_name from _link_clusters c join {scope.records} r using (unique_id)"


def _apart(con: duckdb.DuckDBPyConnection, scope: Scope, clusters: str) -> dict[str, list[int]]:
    """Per cluster of table ``clusters(unique_id, cluster_id)``, the tokens of the steward
    cannot-links its records are a side of (``decisions.load``)."""
    rows = con.execute(
        f"""
        select c.cluster_id, list(distinct a.token) from {clusters} c
        join {scope.work}.apart a using (unique_id) group by c.cluster_id
        """
    ).fetchall()
    return dict(rows)


def _keep_apart(con: duckdb.DuckDBPyConnection, scope: Scope) -> int:
    """Split the deterministic clusters (``{work}.clusters_deterministic``) that join the two sides
    of a steward cannot-link; returns how many there were.

    Such a cluster is walked again link by link: the steward's must-links first (oldest decision
    first), then the exact links (by rule, then records), each refused when it would join the two
    sides of a cannot-link (its edge's guard says which). Only the cannot-links are checked: an
    exact identifier still outranks the model's guards.
    """
    work = scope.work
    con.execute(
        f"""
        create or replace temp table _opposed as
        select distinct c1.cluster_id
        from {work}.apart a1 join {work}.clusters_deterministic c1 using (unique_id)
        join {work}.apart a2 on a2.token = -a1.token
        join {work}.clusters_deterministic c2 on c2.unique_id = a2.unique_id and c2.cluster_id = c1.cluster_id
        """
    )
    opposed = con.execute("select count(*) from _opposed").fetchall()[0][0]
    if not opposed:
        return 0
    con.execute(
        f"""
        create or replace temp table _opposed_records as
        select unique_id, unique_id as cluster_id from {work}.clusters_deterministic
        where cluster_id in (select cluster_id from _opposed);

        create or replace temp table _apart_links as
        select row_number() over (
                   order by e.method <> '{decisions.STEWARD_METHOD}', m.number, e.method,
                            e.unique_id_l, e.unique_id_r) - 1 as position,
               e.unique_id_l, e.unique_id_r
        from {scope.edges} e
        left join {work}.must_links m using (unique_id_l, unique_id_r)
        where e.guard is null and e.unique_id_l in (select unique_id from _opposed_records)
          and (e.method like 'deterministic:%' or e.method = '{decisions.STEWARD_METHOD}')
        """
    )
    links = [Link(left, right) for left, right in con.execute(
        "select unique_id_l, unique_id_r from _apart_links order by position").fetchall()]  # fmt: skip
    records = [r[0] for r in con.execute("select unique_id from _opposed_records").fetchall()]
    allowed = {attribute: "allowed" for attribute in CONFLICT_ATTRIBUTES}
    merged, refused = merge_clusters(
        ((r, ()) for r in records), links, allowed, None, _apart(con, scope, "_opposed_records")
    )
    _mark_refused(con, scope, refused, "_apart_links")
    # The walk's labels are arbitrary: each cluster is labelled by its smallest record, as
    # connected_components labels the others.
    con.register("_walked", pa.table({"unique_id": records, "root": [merged.get(r, r) for r in records]}))
    con.execute(
        f"""
        create or replace table {work}.clusters_deterministic as
        select d.unique_id, coalesce(min(w.unique_id) over (partition by w.root), d.cluster_id) as cluster_id
        from {work}.clusters_deterministic d left join _walked w using (unique_id);
        """
    )
    con.unregister("_walked")
    return opposed


def _mark_refused(
    con: duckdb.DuckDBPyConnection, scope: Scope, refused: list[tuple[int, str]], links: str
) -> None:
    """Write in each refused link's edge what contradicted (``refused``: position in the temp
    table ``links`` of the walk, conflict)."""
    refused_table = pa.table(
        {"position": [p for p, _ in refused], "conflict": [c for _, c in refused]}, schema=REFUSED_SCHEMA
    )
    con.register("_refused", refused_table)
    con.execute(
        f"""
        update {scope.edges} e set guard = 'conflicting ' || f.conflict
        from _refused f join {links} k using (position)
        where e.unique_id_l = k.unique_id_l and e.unique_id_r = k.unique_id_r and e.guard is null
        """
    )
    con.unregister("_refused")


def _links_to_walk(con: duckdb.DuckDBPyConnection, scope: Scope, start: str, methods: str) -> list[Link]:
    """The links between two clusters of ``start`` (temp table ``_links``, by ``position``), in the
    order of the walk, with the attributes both their records have."""
    con.execute(
        "create or replace temp table _links as "
        f"select row_number() over (order by {WALK_ORDER}) - 1 as position, * "
        f"from ({links_sql(scope, start, methods)})"
    )
    return [
        Link(
            row[0],
            row[1],
            frozenset(a for a, both in zip(CONFLICT_ATTRIBUTES, row[2:-1], strict=True) if both),
            row[-1],
        )
        for row in con.execute(
            "select cluster_l, cluster_r, "
            + ", ".join(f"both_{a}" for a in CONFLICT_ATTRIBUTES)
            + ", unnamed_end from _links order by position"
        ).fetchall()
    ]


# The order the merge walks links in: strongest first, ties by records (nulls, the attachments'
# weights, last on both engines).
WALK_ORDER = "match_weight desc nulls last, unique_id_l, unique_id_r"


def links_sql(scope: Scope, start: str, methods: str) -> str:
    """The unrefused edges of methods LIKE ``methods`` between two clusters of ``start``, with the
    conflict attributes both their records have and whether one record has no first name."""
    work = scope.work
    both = ", ".join(f"l.{a} is not null and r.{a} is not null as both_{a}" for a in CONFLICT_ATTRIBUTES)
    return f"""
        select e.match_weight, e.unique_id_l, e.unique_id_r, cl.cluster_id as cluster_l,
               cr.cluster_id as cluster_r, {both},
               l.first_name is null or r.first_name is null as unnamed_end
        from {scope.edges} e
        join {work}.{start} cl on cl.unique_id = e.unique_id_l
        join {work}.{start} cr on cr.unique_id = e.unique_id_r
        join {scope.records} l on l.unique_id = e.unique_id_l
        join {scope.records} r on r.unique_id = e.unique_id_r
        where e.guard is null and e.method like '{methods}' and cl.cluster_id <> cr.cluster_id"""


def _apply_merge(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    start: str,
    merged: dict[str, str],
    refused: list[tuple[int, str]],
) -> None:
    """Mark the refused links' edges with what contradicted, and write ``clusters_all``: the
    clusters of ``start`` with ``merged`` (cluster → the cluster it joined) applied."""
    work = scope.work
    _mark_refused(con, scope, refused, "_links")
    merged_table = pa.table(
        {"cluster_id": list(merged), "merged_into": list(merged.values())}, schema=MERGED_SCHEMA
    )
    con.register("_merged", merged_table)
    con.execute(
        f"""
        create or replace table {work}.clusters_all as
        select d.unique_id, coalesce(m.merged_into, d.cluster_id) as cluster_id
        from {work}.{start} d left join _merged m using (cluster_id);
        """
    )
    con.unregister("_merged")


def cluster_scope(con: duckdb.DuckDBPyConnection, scope: Scope, identity: IdentitySettings) -> None:
    """Cluster the scope's records into ``{work}.clusters`` and ``{work}.flagged``, under the
    steward's decisions (``{work}.must_links`` and ``{work}.apart``, ``decisions.load``)."""
    work = scope.work
    decisions.ensure_loaded(con, work)
    _build_edges(con, scope, identity)
    con.execute(
        f"create or replace table {work}.deterministic_links as "
        f"select unique_id_l, unique_id_r, 1.0 as match_probability from {scope.edges} where {EXACT_LINKS}"
    )
    components = connected_components(con, scope.records, f"{work}.deterministic_links")
    con.execute(
        f"create or replace table {work}.clusters_deterministic as "
        f"select unique_id, cluster_id from {components}"
    )
    _keep_apart(con, scope)
    _merge_along_links(con, scope, "clusters_deterministic", "probabilistic", identity)
    # Shared identifiers and attachments need a first clustering to find who holds each value; their
    # links (all 'attached:…') then continue the walk.
    _link_by_shared_identifier(con, scope)
    if _attach_by_unique_value(con, scope):
        _merge_along_links(con, scope, "clusters_all", "attached:%", identity)
    for table, query in flagged_and_clusters_sql(work, identity.max_cluster_size).items():
        con.execute(f"create or replace table {table} as {query}")


def flagged_and_clusters_sql(work: str, cap: int) -> dict[str, str]:
    """``{work}.flagged`` (clusters of more than ``cap`` records) and ``{work}.clusters`` (each
    record's cluster; a flagged cluster's records keep their deterministic clusters), in order."""
    return {
        f"{work}.flagged": f"""
        select cluster_id, count(*) as records, now() as flagged_at,
               'more than {cap} records: kept apart, deterministic links only' as reason
        from {work}.clusters_all group by cluster_id having count(*) > {cap}""",
        f"{work}.clusters": f"""
        select a.unique_id,
               case when f.cluster_id is null then a.cluster_id
                    else 'flagged:' || d.cluster_id end as cluster_id
        from {work}.clusters_all a
        left join {work}.flagged f using (cluster_id)
        left join {work}.clusters_deterministic d using (unique_id)""",
    }


def label_parts(con: duckdb.DuckDBPyConnection, scope: Scope) -> str:
    """The connected part of each of the scope's records: records joined by an edge or sharing an
    attachment value (``values_used``) that is not ambiguous for good (``AMBIGUOUS_OWNERS``: a
    household e-mail of three people, a common name at a store). Returns a table
    ``(unique_id, part_id)``, the label being the part's smallest record.

    Edges refused by a conflict count (the refusal depends on the clusters the walk had built); a
    pair refused for its first names does not: that guard reads the pair's own two records only, and
    the pair never takes part in any merge (a household's shared address or e-mail would otherwise
    join its members' parts)."""
    work = scope.work
    con.execute(f"create or replace table {work}.part_links as {part_links_sql(scope)}")
    labelled = connected_components(con, scope.records, f"{work}.part_links")
    con.execute(
        f"create or replace table {work}.parts as select unique_id, cluster_id as part_id from {labelled}"
    )
    return f"{work}.parts"


def part_links_sql(scope: Scope) -> str:
    """The links of ``label_parts``' graph: edges (but those refused for first names) and shared
    attachment values not ambiguous for good."""
    work = scope.work
    outside_join, outside_owners = _outside(scope, "u")
    ambiguous = AMBIGUOUS_SQL.replace("kind", "u.kind")
    return f"""
        with ambiguous as (
            select u.kind, u.value from {work}.values_used u{outside_join} where u.owner
            group by u.kind, u.value
            having count(distinct u.cluster_id) + {outside_owners} >= {ambiguous}
        )
        select unique_id_l, unique_id_r from {scope.edges}
        where guard is distinct from '{FIRST_NAME_GUARD}'
        union all
        select v.unique_id, min(v.unique_id) over (partition by v.kind, v.value) from {work}.values_used v
        anti join ambiguous a on a.kind = v.kind and a.value = v.value"""


def cluster_all(con: duckdb.DuckDBPyConnection, work: str, identity: IdentitySettings) -> Clustering:
    """Cluster every record (a full run) and write the identity tables."""
    scope = Scope.everything(work)
    cluster_scope(con, scope, identity)
    parts = label_parts(con, scope)
    con.execute(
        f"""
        create or replace table identity.flagged_clusters as select * from {work}.flagged;
        create or replace table identity.clusters as select * from {work}.clusters;
        create or replace table identity.attachment_values as
        select unique_id, cluster_id, kind, value, owner from {work}.values_used;
        create or replace table identity.connected_parts as select * from {parts};
        -- Every cluster may have changed: customer ids are assigned to every record again.
        drop table if exists {IDS_PENDING};
        """
    )
    return Clustering(con.execute("select count(*) from identity.clusters").fetchall()[0][0])
