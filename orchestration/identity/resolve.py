"""Identity resolution: standardise → deterministic links → Splink → guarded clusters.

Writes, in the warehouse's ``identity`` schema:

- ``records``: standardised identity-bearing records (``standardise``);
- ``deterministic_edges``: exact links (``links``);
- ``scored_edges``: every pair Splink scored above ``EXPLAIN_MIN_PROBABILITY``, with match weight,
  probability and the level of each comparison (the "why" of every probabilistic merge);
- ``clusters``: ``unique_id → cluster_id`` (Splink's connected-components label), before stable ids.

Over-merge guards, applied to probabilistic edges only (deterministic ones are trusted):

- placeholders never reach matching (standardisation turns them into NULL);
- an edge between two records with known, different birth dates (more than a year apart), or with
  clearly different first names (Jaro-Winkler < 0.7, neither an initial nor a prefix of the other),
  is not used to merge: it is the signature of household members sharing an address or an e-mail;
- a cluster above ``max_cluster_size`` records is flagged in ``identity.flagged_clusters`` and falls
  back to its deterministic links only: it is not silently merged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
from splink import DuckDBAPI, Linker

from orchestration.identity import model
from orchestration.identity.graph import connected_components
from orchestration.identity.links import build_deterministic_edges
from orchestration.identity.standardise import build_identity_records

EXPLAIN_MIN_PROBABILITY = 0.5
# Intermediate tables (ours and Splink's) live here and are dropped after every run, so the
# warehouse keeps only the ``identity`` outputs and does not grow with each run.
WORK_SCHEMA = "identity_work"
SOURCES = (
    "pos_tickets", "ecommerce_customers", "ecommerce_orders", "crm_contacts", "crm_tickets",
    "survey_responses",
)  # fmt: skip


@dataclass(frozen=True)
class ResolutionConfig:
    match_probability: float = 0.99
    max_cluster_size: int = 60
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


def _splink_inputs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """One input table per source (link_and_dedupe), holding records with something to compare.

    Temporary tables: Splink reads them by unqualified name, and they vanish with the connection.
    """
    names = []
    for source in SOURCES:
        name = f"splink_{source}"
        con.execute(
            f"""
            create or replace temp table {name} as
            select unique_id, first_name, last_name,
                   nullif(concat_ws(' ', first_name, last_name), '') as full_name,
                   email, phone, birth_date, postcode, street
            from identity.records
            where source_system = '{source}'
              and coalesce(first_name, last_name, email, phone) is not null
            """
        )
        names.append(name)
    return names


def _attach_nameless_records(con: duckdb.DuckDBPyConnection) -> int:
    """Attach records that carry only an e-mail or a phone (no name to compare) by that value.

    Splink cannot give such a record a high probability on one matching value alone, yet the value
    is the only evidence there is. So, after a first clustering: a nameless record joins the one
    cluster of named records using the same e-mail (or phone); if no named record uses it, the
    nameless records sharing it join each other; if several clusters use it (a household e-mail),
    the value is ambiguous and nothing is attached.
    """
    con.execute(
        f"""
        insert into identity.edges
        with values_used as (
            select r.unique_id, c.cluster_id, kind, value,
                   r.first_name is null and r.last_name is null as nameless
            from identity.records r
            join {WORK_SCHEMA}.clusters_all c using (unique_id),
            lateral (select 'email' as kind, r.email as value union all select 'phone', r.phone)
            where value is not null
        ),
        owners as (
            select kind, value, count(distinct cluster_id) filter (where not nameless) as named_clusters,
                   min(unique_id) filter (where not nameless) as named_anchor,
                   min(unique_id) filter (where nameless) as nameless_anchor
            from values_used group by all
        )
        select distinct least(v.unique_id, coalesce(o.named_anchor, o.nameless_anchor)),
               greatest(v.unique_id, coalesce(o.named_anchor, o.nameless_anchor)),
               1.0, 'attached:' || v.kind, null
        from values_used v join owners o using (kind, value)
        where v.nameless and o.named_clusters <= 1
          and v.unique_id <> coalesce(o.named_anchor, o.nameless_anchor)
        """
    )
    return con.execute("select count(*) from identity.edges where method like 'attached:%'").fetchall()[0][0]


def _train(linker: Linker, config: ResolutionConfig) -> None:
    linker.training.estimate_probability_two_random_records_match(
        model.PRIOR_RULES, recall=model.PRIOR_RECALL
    )
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
    records = build_identity_records(con)
    deterministic = build_deterministic_edges(con)
    inputs = _splink_inputs(con)

    db_api = DuckDBAPI(con, output_schema=WORK_SCHEMA)
    tables = [db_api.register(name, dataset_display_name=name.removeprefix("splink_")) for name in inputs]
    saved = None if config.retrain else model.load_saved_settings()
    trained = saved is None
    linker = Linker(tables, saved or model.settings(), log_level=logging.WARNING)
    if trained:
        log("training the Splink model (no saved model, or retrain requested)")
        _train(linker, config)
        linker.misc.save_model_to_json(str(model.MODEL_PATH), overwrite=True)
    predictions = linker.inference.predict(threshold_match_probability=EXPLAIN_MIN_PROBABILITY)
    con.execute(f"create or replace table identity.scored_edges as select * from {predictions.physical_name}")
    scored = con.execute("select count(*) from identity.scored_edges").fetchall()[0][0]

    con.execute(
        f"""
        create or replace table identity.edges as
        with pairs as (
            select s.unique_id_l, s.unique_id_r, s.match_probability, s.match_weight,
                   l.birth_date as dob_l, r.birth_date as dob_r, l.first_name as fn_l, r.first_name as fn_r
            from identity.scored_edges s
            join identity.records l on l.unique_id = s.unique_id_l
            join identity.records r on r.unique_id = s.unique_id_r
            where s.match_probability >= {config.match_probability}
        )
        select unique_id_l, unique_id_r, match_probability, 'probabilistic' as method,
               case
                   when abs(date_diff('day', dob_l, dob_r)) > 366 then 'different birth dates'
                   when length(fn_l) > 1 and length(fn_r) > 1 and jaro_winkler_similarity(fn_l, fn_r) < 0.7
                        and not starts_with(fn_l, fn_r) and not starts_with(fn_r, fn_l)
                        then 'different first names'
               end as guard
        from pairs
        union all
        select unique_id_l, unique_id_r, 1.0, 'deterministic:' || rule, null
        from identity.deterministic_edges
        """
    )
    guarded = con.execute("select count(*) from identity.edges where guard is not null").fetchall()[0][0]
    probabilistic = con.execute(
        "select count(*) from identity.edges where method = 'probabilistic' and guard is null"
    ).fetchall()[0][0]

    def components(edge_filter: str, target: str) -> None:
        con.execute(
            f"create or replace table {WORK_SCHEMA}.cluster_edges as "
            "select unique_id_l, unique_id_r, 1.0 as match_probability "
            f"from identity.edges where guard is null and ({edge_filter})"
        )
        out = connected_components(db_api, "identity.records", f"{WORK_SCHEMA}.cluster_edges")
        con.execute(
            f"create or replace table {WORK_SCHEMA}.{target} as select unique_id, cluster_id from {out}"
        )

    components("true", "clusters_all")
    if _attach_nameless_records(con):
        components("true", "clusters_all")
    components("method like 'deterministic:%'", "clusters_deterministic")
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
    return ResolutionResult(records, deterministic, scored, probabilistic, guarded, flagged, trained)
