"""Identity resolution: standardise → deterministic links → Splink → constrained merging.

Writes, in the warehouse's ``identity`` schema:

- ``records``: standardised identity-bearing records (``standardise``);
- ``deterministic_edges``: exact links (``links``);
- ``scored_edges``: every pair Splink scored above ``EXPLAIN_MIN_PROBABILITY``, with match weight,
  probability and the level of each comparison (the "why" of every probabilistic merge);
- ``edges``: every link considered (deterministic, probabilistic, attached), with ``guard`` saying
  why a link was refused (null when it was used);
- ``clusters``: ``unique_id → cluster_id`` (an unstable label), before stable ids.

Over-merge guards, applied to probabilistic and attached links only (deterministic ones are
trusted):

- placeholders never reach matching (standardisation turns them into NULL);
- a scored pair whose first names cannot be one person's (``cdp_names_compatible``) is not used:
  it is the signature of household members sharing an address or an e-mail; unless the two
  records give the same mobile number, which a household does not share (a nickname: Tom, Thomas);
- links join clusters strongest first and never two clusters with different birth dates, phones,
  loyalty cards or web accounts (``merge``), so a chain through a record that lacks those values
  cannot glue two people together;
- two clusters that alone share an e-mail or a mobile number are linked only when all their names
  using it are compatible (``_link_by_shared_identifier``);
- a cluster above ``max_cluster_size`` records is flagged in ``identity.flagged_clusters`` and falls
  back to its deterministic links only: it is not silently merged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from orchestration.identity import model
from orchestration.identity.graph import connected_components
from orchestration.identity.links import build_deterministic_edges
from orchestration.identity.merge import merge_clusters
from orchestration.identity.standardise import build_identity_records

EXPLAIN_MIN_PROBABILITY = 0.5
MERGED_SCHEMA = pa.schema([("cluster_id", pa.string()), ("merged_into", pa.string())])
REFUSED_SCHEMA = pa.schema([("position", pa.int64()), ("conflict", pa.string())])
# Intermediate tables (ours and Splink's) live here and are dropped after every run, so the
# warehouse keeps only the ``identity`` outputs and does not grow with each run.
WORK_SCHEMA = "identity_work"
SOURCES = (
    "pos_tickets", "ecommerce_customers", "ecommerce_orders", "crm_contacts", "crm_tickets",
    "survey_responses",
)  # fmt: skip


@dataclass(frozen=True)
class ResolutionConfig:
    match_probability: float = 0.5
    max_cluster_size: int = 60
    # Largest block a name or place blocking rule may form (model.BLOCKING_KEYS).
    max_block_records: int = 25
    retrain: bool = False
    u_max_pairs: float = 2e6
    seed: int = 42


@dataclass
class ResolutionResult:
    records: int
    deterministic_edges: int
    scored_pairs: int
    probabilistic_edges: int
    guarded_edges: int
    flagged_clusters: int
    trained: bool
    # Wall seconds per stage (standardise, link, cluster): what `cdp bench` reports.
    seconds: dict[str, float] = field(default_factory=dict)


def _splink_inputs(con: duckdb.DuckDBPyConnection, max_block: int) -> list[str]:
    """One input table per source (link_and_dedupe), holding records with a name.

    A record without a name has one e-mail or phone to match on, which no model can weigh
    against the namesakes sharing it: ``_attach_by_unique_value`` places those records instead.

    Temporary tables: Splink reads them by unqualified name, and they vanish with the connection.
    """
    # Each capped blocking key (model.BLOCKING_KEYS): the first tier at most max_block records
    # share, counted across every source (link_and_dedupe compares across and within them).
    tiers = {k: [f"({t})" for t in v] for k, v in model.BLOCKING_KEYS.items()}
    counts = ",\n".join(
        f"count(*) over (partition by {t}) as {key}_{i}"
        for key, ts in tiers.items()
        for i, t in enumerate(ts)
    )
    keys = ",\n".join(
        "case "
        + " ".join(f"when {key}_{i} <= {max_block} then {t}" for i, t in enumerate(ts))
        + f" end as {key}"
        for key, ts in tiers.items()
    )
    con.execute(
        f"""
        create or replace temp table splink_named as
        with named as (
            select unique_id, source_system, first_name, last_name,
                   nullif(concat_ws(' ', first_name, last_name), '') as full_name,
                   email, phone, birth_date, postcode, street
            from identity.records
            where coalesce(first_name, last_name) is not null
        ),
        counted as (select *, {counts} from named)
        select unique_id, source_system, first_name, last_name, full_name, email, phone, birth_date,
               postcode, street, {keys}
        from counted
        """
    )
    names = []
    for source in SOURCES:
        name = f"splink_{source}"
        con.execute(
            f"create or replace temp table {name} as select * exclude (source_system) "
            f"from splink_named where source_system = '{source}'"
        )
        names.append(name)
    return names


def _attach_by_unique_value(con: duckdb.DuckDBPyConnection) -> int:
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
    """
    con.execute(
        f"""
        insert into identity.edges
        with clusters as (
            select c.cluster_id, count(*) = 1 as single,
                   count(coalesce(r.email, r.loyalty_card, r.account_id, r.birth_date::varchar)) = 0
                       as name_only
            from {WORK_SCHEMA}.clusters_all c join identity.records r using (unique_id)
            group by c.cluster_id
        ),
        records as (
            select r.*, c.cluster_id, k.single, k.name_only,
                   r.first_name is null and r.last_name is null as nameless,
                   case when length(r.first_name) > 1 then r.first_name || ' ' || r.last_name end
                       as full_name
            from identity.records r
            join {WORK_SCHEMA}.clusters_all c using (unique_id)
            join clusters k using (cluster_id)
        ),
        cluster_stores as (
            select cluster_id, store_code from records where store_code is not null
            union
            select r.cluster_id, s.code_magasin
            from records r join raw.pos_stores s on cdp_std_city(s.ville) = r.city
        ),
        values_used as (
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
            where not r.name_only and r.full_name is not null
        ),
        owners as (
            select kind, value, count(distinct cluster_id) filter (where owner) as owner_clusters,
                   coalesce(min(unique_id) filter (where owner),
                            min(unique_id) filter (where candidate and pooled)) as anchor
            from values_used group by all
        )
        select distinct least(v.unique_id, o.anchor), greatest(v.unique_id, o.anchor),
               1.0, null, 'attached:' || v.kind, null
        from values_used v join owners o using (kind, value)
        where v.candidate and o.owner_clusters <= 1 and v.unique_id <> o.anchor
        """
    )
    return con.execute("select count(*) from identity.edges where method like 'attached:%'").fetchall()[0][0]


def _link_by_shared_identifier(con: duckdb.DuckDBPyConnection) -> None:
    """Link two clusters that alone share an e-mail or a mobile number, under compatible names.

    Splink weighs an exact e-mail by how often the value occurs, and one person's own records make a
    personal e-mail look common: at 100k customers an e-mail held by 14 records of one person, with
    "G. Martin" against "Gilbert Martin", scores 0.29. Here the question is asked of clusters instead
    of records: when exactly two clusters use the value, and every pair of their names using it could
    be one person's (``cdp_names_compatible``), they are linked. A household e-mail used by two
    people has two different first names and is left alone; a value used by three or more clusters
    is ambiguous and is left alone too.
    """
    con.execute(
        f"""
        insert into identity.edges
        with used as (
            select r.unique_id, c.cluster_id, 'email' as kind, r.email as value, r.first_name, r.last_name
            from identity.records r join {WORK_SCHEMA}.clusters_all c using (unique_id)
            where r.email is not null and coalesce(r.first_name, r.last_name) is not null
            union all
            select r.unique_id, c.cluster_id, 'phone', r.phone, r.first_name, r.last_name
            from identity.records r join {WORK_SCHEMA}.clusters_all c using (unique_id)
            where cdp_is_mobile(r.phone) and coalesce(r.first_name, r.last_name) is not null
        ),
        two_clusters as (
            select kind, value, min(cluster_id) as cluster_a, max(cluster_id) as cluster_b
            from used group by all having count(distinct cluster_id) = 2
        ),
        sides as (
            select t.kind, t.value, u.cluster_id = t.cluster_a as side_a, u.unique_id, u.first_name,
                   u.last_name
            from two_clusters t join used u using (kind, value)
        )
        select least(min(a.unique_id), min(b.unique_id)), greatest(min(a.unique_id), min(b.unique_id)),
               1.0, null, 'attached:shared ' || a.kind, null
        from sides a join sides b on a.kind = b.kind and a.value = b.value and a.side_a and not b.side_a
        group by a.kind, a.value
        having bool_and(coalesce(cdp_names_compatible(a.first_name, a.last_name, b.first_name, b.last_name),
                                 false))
        """
    )


def _merge_along_links(con: duckdb.DuckDBPyConnection, start: str, methods: str) -> None:
    """``clusters_all``: the clusters of table ``start`` joined along links without contradiction.

    The links are the unrefused edges whose method is LIKE ``methods``, walked strongest first (by
    match weight); a link whose clusters contradict (``merge.CONFLICT_ATTRIBUTES``) is refused and
    its edge marked with the conflicting attribute in ``identity.edges.guard``.
    """
    con.execute(
        f"""
        create or replace temp table _links as
        select row_number() over (order by e.match_weight desc, e.unique_id_l, e.unique_id_r) - 1 as position,
               e.unique_id_l, e.unique_id_r, l.cluster_id as cluster_l, r.cluster_id as cluster_r
        from identity.edges e
        join {WORK_SCHEMA}.{start} l on l.unique_id = e.unique_id_l
        join {WORK_SCHEMA}.{start} r on r.unique_id = e.unique_id_r
        where e.guard is null and e.method like '{methods}' and l.cluster_id <> r.cluster_id
        """
    )
    links = con.execute("select cluster_l, cluster_r from _links order by position").fetchall()
    attributes = con.execute(
        f"""
        select c.cluster_id,
               list(distinct strftime(r.birth_date, '%Y-%m-%d')) filter (where r.birth_date is not null),
               list(distinct r.phone) filter (where r.phone is not null),
               list(distinct r.loyalty_card) filter (where r.loyalty_card is not null),
               list(distinct r.account_id) filter (where r.account_id is not null)
        from {WORK_SCHEMA}.{start} c join identity.records r using (unique_id)
        where c.cluster_id in (select cluster_l from _links union select cluster_r from _links)
        group by c.cluster_id
        """
    ).fetchall()
    merged, refused = merge_clusters(((row[0], row[1:]) for row in attributes), links)
    merged_table = pa.table(
        {"cluster_id": list(merged), "merged_into": list(merged.values())}, schema=MERGED_SCHEMA
    )
    refused_table = pa.table(
        {"position": [p for p, _ in refused], "conflict": [c for _, c in refused]}, schema=REFUSED_SCHEMA
    )
    con.register("_merged", merged_table)
    con.register("_refused", refused_table)
    con.execute(
        f"""
        update identity.edges e set guard = 'conflicting ' || f.conflict
        from _refused f join _links k using (position)
        where e.unique_id_l = k.unique_id_l and e.unique_id_r = k.unique_id_r and e.guard is null;

        create or replace table {WORK_SCHEMA}.clusters_all as
        select d.unique_id, coalesce(m.merged_into, d.cluster_id) as cluster_id
        from {WORK_SCHEMA}.{start} d left join _merged m using (cluster_id);
        """
    )
    con.unregister("_merged")
    con.unregister("_refused")


def _estimate_prior(linker: Linker) -> None:
    linker.training.estimate_probability_two_random_records_match(
        model.PRIOR_RULES, recall=model.PRIOR_RECALL
    )


def _train(linker: Linker, config: ResolutionConfig) -> None:
    _estimate_prior(linker)
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=config.seed)
    for rule in model.TRAINING_RULES:
        linker.training.estimate_parameters_using_expectation_maximisation(rule, record_sample_proportion=1.0)


def resolve(
    con: duckdb.DuckDBPyConnection, config: ResolutionConfig = ResolutionConfig(), log=print
) -> ResolutionResult:
    """Run the whole resolution on the warehouse connection ``con``."""
    con.execute(f"drop schema if exists {WORK_SCHEMA} cascade")
    con.execute(f"create schema {WORK_SCHEMA}")
    try:
        return _resolve(con, config, log)
    finally:
        # Splink's DuckDBAPI switches the connection's default schema to its output schema.
        con.execute("set schema 'main'")
        con.execute(f"drop schema if exists {WORK_SCHEMA} cascade")


def _resolve(con: duckdb.DuckDBPyConnection, config: ResolutionConfig, log) -> ResolutionResult:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    records = build_identity_records(con)
    seconds["standardise"] = time.perf_counter() - started
    started = time.perf_counter()
    deterministic = build_deterministic_edges(con)
    inputs = _splink_inputs(con, config.max_block_records)

    db_api = DuckDBAPI(con, output_schema=WORK_SCHEMA)
    tables = [db_api.register(name, dataset_display_name=name.removeprefix("splink_")) for name in inputs]
    saved = None if config.retrain else model.load_saved_settings()
    trained = saved is None
    linker = Linker(tables, saved or model.settings(), log_level=logging.WARNING)
    if trained:
        log("training the Splink model (no saved model, or retrain requested)")
        _train(linker, config)
        linker.misc.save_model_to_json(str(model.MODEL_PATH), overwrite=True)
    else:
        # m and u describe the comparisons and carry over; the prior (the chance that two random
        # records match) shrinks as the data grows, so it is measured on every run's own data.
        _estimate_prior(linker)
    predictions = linker.inference.predict(threshold_match_probability=EXPLAIN_MIN_PROBABILITY)
    con.execute(f"create or replace table identity.scored_edges as select * from {predictions.physical_name}")
    scored = con.execute("select count(*) from identity.scored_edges").fetchall()[0][0]

    con.execute(
        f"""
        create or replace table identity.edges as
        with pairs as (
            select s.unique_id_l, s.unique_id_r, s.match_probability, s.match_weight,
                   l.first_name as fn_l, l.last_name as ln_l, r.first_name as fn_r, r.last_name as ln_r,
                   l.phone = r.phone and cdp_is_mobile(l.phone) as same_mobile
            from identity.scored_edges s
            join identity.records l on l.unique_id = s.unique_id_l
            join identity.records r on r.unique_id = s.unique_id_r
            where s.match_probability >= {config.match_probability}
        )
        select unique_id_l, unique_id_r, match_probability, match_weight, 'probabilistic' as method,
               case when not cdp_names_compatible(fn_l, ln_l, fn_r, ln_r) and not coalesce(same_mobile, false)
                    then 'different first names' end
                   as guard
        from pairs
        union all
        select unique_id_l, unique_id_r, 1.0, null, 'deterministic:' || rule, null
        from identity.deterministic_edges
        """
    )
    con.execute(
        f"create or replace table {WORK_SCHEMA}.deterministic_links as "
        "select unique_id_l, unique_id_r, 1.0 as match_probability "
        "from identity.edges where method like 'deterministic:%'"
    )
    seconds["link"] = time.perf_counter() - started
    started = time.perf_counter()
    components = connected_components(db_api, "identity.records", f"{WORK_SCHEMA}.deterministic_links")
    con.execute(
        f"create or replace table {WORK_SCHEMA}.clusters_deterministic as "
        f"select unique_id, cluster_id from {components}"
    )
    _merge_along_links(con, start="clusters_deterministic", methods="probabilistic")
    # Shared identifiers and attachments need a first clustering to find who holds each value; their
    # links (all 'attached:…') then continue the walk.
    _link_by_shared_identifier(con)
    if _attach_by_unique_value(con):
        _merge_along_links(con, start="clusters_all", methods="attached:%")
    guarded = con.execute("select count(*) from identity.edges where guard is not null").fetchall()[0][0]
    probabilistic = con.execute(
        "select count(*) from identity.edges where method = 'probabilistic' and guard is null"
    ).fetchall()[0][0]
    con.execute(
        f"""
        create or replace table identity.flagged_clusters as
        select cluster_id, count(*) as records, now() as flagged_at,
               'more than {config.max_cluster_size} records: kept apart, deterministic links only' as reason
        from {WORK_SCHEMA}.clusters_all group by cluster_id having count(*) > {config.max_cluster_size}
        """
    )
    flagged = con.execute("select count(*) from identity.flagged_clusters").fetchall()[0][0]
    con.execute(
        f"""
        create or replace table identity.clusters as
        select a.unique_id,
               case when f.cluster_id is null then a.cluster_id
                    else 'flagged:' || d.cluster_id end as cluster_id
        from {WORK_SCHEMA}.clusters_all a
        left join identity.flagged_clusters f using (cluster_id)
        left join {WORK_SCHEMA}.clusters_deterministic d using (unique_id)
        """
    )
    seconds["cluster"] = time.perf_counter() - started
    return ResolutionResult(records, deterministic, scored, probabilistic, guarded, flagged, trained, seconds)
