"""Incremental identity: what an increment builds on, whether it may, and which records changed.

A daily delivery adds about 1 % of the records. An incremental run (``resolution.resolve``)
standardises only the records of deliveries the previous resolution did not read (``raw_delta``;
every record when rows were removed or the stores changed), scores only the pairs with at least
one record that is new or *changed*, keeps the previous scored pairs among the records that did
not change (``scoring.score_increment``), and clusters only the part of the records those changes
touch (``cluster_increment``). A named record is changed when a value Splink compares or one of
its capped blocking keys differs from the previous run's: a key refined because more records now
share it is a change too, so the pairs compared are exactly the pairs a full run would compare. A
record that disappeared takes its pairs with it. The blocking keys, the exact links and the
digests that find what changed still read every record (measured in docs/identity.md, "Incremental runs").

An increment must score its pairs as the resolution it builds on did, so it runs only when that
resolution was made by the same identity code, the same settings (``identity.yml`` and a run's
overrides), the same model and the same plan of fields and blocking rules; and it scores with the
prior of the last *full* resolution, kept in ``identity.resolution_state`` (a full run re-estimates
the prior, which drifts as records are added; an increment keeps it so that old and new pairs
weigh alike). It also reuses that full resolution's field plan and block caps
(``splink_inputs.StoredPlan``): the records sharing each key's values are counted again, not the
pairs every cap would compare; a day's records hardly move either, and with the same caps the
pairs compared are those an estimate would give. Otherwise the run is full, and says why.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.exports import ALL_TABLES
from orchestration.identity import model
from orchestration.identity.config import IdentitySettings
from orchestration.identity.standardise import READ_TABLES, RECORD_SOURCES, latest_versions_where
from orchestration.warehouse import table_exists
from orchestration.warehouse.raw import ensure_raw_schema

PACKAGE = Path(__file__).resolve().parent
STATE_DDL = """
create table if not exists identity.resolution_state (
    resolved_at timestamptz not null,
    mode varchar not null,             -- full | incremental
    code_version varchar not null,     -- code_version(): a digest of orchestration/identity/*.py
    settings json not null,            -- settings_fingerprint(): the identity settings in force
    model_digest varchar,              -- model_digest(): m and u of the model used; null: none
    plan varchar,                      -- plan_fingerprint(): comparisons, blocking rules, inputs
    prior double,                      -- the refined prior of the last full resolution
    full_resolved_at timestamptz,      -- when that full resolution ran
    stores varchar,                    -- stores_digest(): the stores the records were resolved with
    field_plan json                    -- the last full resolution's field plan and block caps
                                       -- (splink_inputs.plan_state), which an increment reuses
)
"""
# The raw rows each resolution standardised, by delivery (file and load): the next one standardises
# only the deliveries that are new since (``raw_delta``).
BATCHES_DDL = """
create table if not exists identity.raw_batches (
    table_name varchar not null,
    source_file varchar,
    file_sha256 varchar,
    loaded_at timestamptz,
    rows bigint not null
)
"""
BATCH_COLUMNS = ("source_file", "file_sha256", "loaded_at")
# The columns of a named record that decide which pairs it is compared in and how they score
# (splink_keyed in splink_inputs.build_inputs, whose other columns derive from these).
COMPARED_COLUMNS = (
    "first_name", "last_name", "email", "phone", "birth_date", "postcode", "city", "street",
    "house_number", *model.BLOCKING_KEYS,
)  # fmt: skip
# When records holding a value of a term-frequency column (``model.TERM_FREQUENCY_COLUMNS``)
# arrive or go, the pairs of the other records holding it weigh otherwise: a full name held by one
# record and now by two loses a bit of evidence. A record holding a value whose count moved by
# more than TF_DRIFT_BITS (in log2 of the count: 0.05 bits is a count of 28 or more growing by one)
# is scored again, so that an increment's pairs weigh what a full resolution would give them; a
# common value's drift is smaller than that and is left, as the growth of the records (the prior) is.
TF_DRIFT_BITS = 0.05
# Where each setting lives in identity.yml, to name it when it changed.
SETTING_KEYS = {
    "match_probability": "matching.match_probability",
    "max_cluster_size": "matching.max_cluster_size",
    "pairs_per_record": "matching.pairs_per_record",
    "min_field_share": "matching.min_field_share",
    "first_name_variants": "first_names.variants_file",
    "phonetic_first_names": "first_names.phonetic",
    "first_name_guard": "first_names.guard",
    "prior_recall": "prior.recall",
    "auto_train_min_records": "training.auto_train_min_records",
    "seed": "training.seed",
    "u_max_pairs": "training.u_max_pairs",
    "em_max_pairs": "training.em_max_pairs",
    "range_looser": "kpi_range.looser_match_probability",
}
# Settings that change no scored pair, link or cluster: a change of them is no reason to resolve
# again (the stricter end of the KPI range is a clustering of the kept pairs, made after the run).
NOT_RESOLVING = {"source", "range_stricter"}


def _digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()[:16]


@functools.cache
def code_version() -> str:
    """A digest of the identity package's Python sources, as this process loaded them: any edit may
    change what is scored."""
    sha = hashlib.sha256()
    for path in sorted(PACKAGE.glob("*.py")):
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:16]


def settings_fingerprint(identity: IdentitySettings) -> dict[str, str]:
    """Every setting in force, by its identity.yml key (the file's path apart: a copy with the same
    content is the same configuration)."""
    values = {
        f.name: getattr(identity, f.name) for f in dataclasses.fields(identity) if f.name not in NOT_RESOLVING
    }
    conflicts = values.pop("conflicts")
    fingerprint = {SETTING_KEYS[k]: repr(v) for k, v in values.items() if k != "first_name_variants"}
    fingerprint["first_names.variants_file"] = "rows " + _digest(repr(values["first_name_variants"]))
    fingerprint |= {f"conflicts.{k}": v for k, v in sorted(conflicts.items())}
    return fingerprint


def model_digest(saved: dict | None) -> str | None:
    """A digest of what the model weighs (comparisons with their m and u), not of its prior: the
    prior is estimated on every full run."""
    if saved is None:
        return None
    return _digest(json.dumps(saved["comparisons"], sort_keys=True))


def plan_fingerprint(plan: model.ModelPlan, inputs: list[str]) -> str:
    """What the data supports (comparisons, blocking rules) and the Splink inputs (one per source)."""
    return json.dumps(
        {"comparisons": plan.comparisons, "blocking_rules": plan.blocking_rule_names, "inputs": inputs}
    )


@dataclass(frozen=True)
class Previous:
    """The resolution in the warehouse that an increment would build on."""

    mode: str
    code_version: str
    settings: dict[str, str]
    model_digest: str | None
    plan: str | None
    prior: float | None
    full_resolved_at: object
    stores: str | None = None
    field_plan: str | None = None


def read_previous(con: duckdb.DuckDBPyConnection) -> Previous | None:
    """The last resolution's state, or None when the warehouse holds no complete resolution."""
    needed = ("resolution_state", "records", "blocking_keys", "scored_edges")
    if not all(table_exists(con, "identity", t) for t in needed):
        return None
    cursor = con.execute("select * from identity.resolution_state order by resolved_at desc limit 1")
    row = cursor.fetchall()
    if not row:
        return None
    # By name: a state written by an earlier version may lack the later columns.
    state = dict(zip((d[0] for d in cursor.description), row[0], strict=True))
    return Previous(
        state["mode"], state["code_version"], json.loads(state["settings"]), state["model_digest"],
        state["plan"], state["prior"], state["full_resolved_at"], state.get("stores"),
        state.get("field_plan"),
    )  # fmt: skip


def reason_for_full(
    con: duckdb.DuckDBPyConnection, previous: Previous | None, identity: IdentitySettings, retrain: bool
) -> str | None:
    """Why this run cannot build on the previous resolution (None: it can), known before any work."""
    if previous is None:
        if table_exists(con, "identity", "records"):
            return "the previous resolution kept no state to build on (made before incremental runs)"
        return "no previous resolution in this warehouse"
    if retrain:
        return "retrain requested"
    if previous.code_version != code_version():
        return f"identity code changed (version {previous.code_version} → {code_version()})"
    now = settings_fingerprint(identity)
    changed = sorted(
        k for k in now.keys() | previous.settings.keys() if now.get(k) != previous.settings.get(k)
    )
    if changed:
        return f"identity settings changed ({', '.join(changed)})"
    if previous.prior is None:
        return "the previous resolution scored no pair (no prior to build on)"
    return None


def reason_for_full_model(previous: Previous, saved: dict | None, plan: str) -> str | None:
    """Why the model or the plan this run would use differ from the previous resolution's."""
    if saved is None:
        return "the model is to be trained"
    if model_digest(saved) != previous.model_digest:
        return "the model changed"
    if plan != previous.plan:
        return "the fields the data supports changed (comparisons, blocking rules or inputs)"
    return None


def stores_digest(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of the stores' codes, towns and e-mail addresses: a store's address is a
    placeholder on every record (standardisation), and a cluster is at a store when a record lives
    in its town (attachments); standardising and clustering only part of the records holds while
    the stores stay the same."""
    rows = con.execute(
        "select code_magasin, ville, email_magasin from raw_current.pos_stores order by all"
    ).fetchall()
    return _digest(repr(rows))


# How each term-frequency column is read from the previous run's named records (``k``: their
# blocking keys and compared values; ``r``: identity.records), as splink_inputs.named_records makes it.
_TERM_SOURCE = {
    "first_name": "r.first_name",
    "last_name": "r.last_name",
    "full_name": model.full_name_sql("r."),
    "email": "k.email",
    "phone": "k.phone",
    "postcode": "r.postcode",
}


def snapshot_previous(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Digests of the previous run's records, before standardisation replaces them: every column of
    every record (what changed), and the compared columns of named records (what to score again)."""
    compared = ", ".join(
        f"k.{c}"
        if c in model.BLOCKING_KEYS
        else "k.birth_date_compared"  # the parts as Splink compares them (splink_inputs.named_records)
        if c == "birth_date"
        else f"r.{c}"
        for c in COMPARED_COLUMNS
    )
    con.execute(
        f"""
        create or replace table {schema}.previous_records as
        select unique_id, hash(r) as digest from identity.records r;
        create or replace table {schema}.previous_named as
        select unique_id, hash({compared}) as digest,
               {", ".join(f"{_TERM_SOURCE[c]} as {c}" for c in model.TERM_FREQUENCY_COLUMNS)}
        from identity.blocking_keys k join identity.records r using (unique_id);
        """
    )


def mark_rescored(con: duckdb.DuckDBPyConnection, schema: str, keyed: str) -> None:
    """Add ``cdp_rescore`` to the named records ``keyed``: new, or changed in a compared column, or
    holding a value whose term frequency moved (``TF_DRIFT_BITS``)."""
    drifted = " union all ".join(
        f"""
        select k.unique_id from {keyed} k join (
            select v from (select {c} as v, count(*) as now from {keyed} group by 1)
            join (select {c} as v, count(*) as was from {schema}.previous_named group by 1) using (v)
            where v is not null and abs(log2(now / was)) > {TF_DRIFT_BITS}
        ) d on d.v = k.{c}"""
        for c in model.TERM_FREQUENCY_COLUMNS
    )
    con.execute(
        f"""
        create or replace table {schema}.rescored as
        select k.unique_id
        from {keyed} k left join {schema}.previous_named p using (unique_id)
        where p.digest is distinct from hash({", ".join(f"k.{c}" for c in COMPARED_COLUMNS)})
        union {drifted};
        alter table {keyed} add column cdp_rescore boolean default false;
        update {keyed} set cdp_rescore = true where unique_id in (select unique_id from {schema}.rescored);
        """
    )


@dataclass(frozen=True)
class Changes:
    """How the records of this run differ from the previous run's."""

    records: int
    new: int
    changed: int
    removed: int
    rescored: int  # named records whose pairs are scored again (new or changed compared values)

    def describe(self) -> str:
        return (
            f"{self.new + self.changed:,} new or changed records of {self.records:,} "
            f"({self.new:,} new, {self.changed:,} changed, {self.removed:,} gone; "
            f"{self.rescored:,} named records scored again)"
        )


def count_changes(con: duckdb.DuckDBPyConnection, schema: str) -> Changes:
    """New, changed and removed identity records (``snapshot_previous`` before this run's), kept in
    ``{schema}.changed_records(unique_id, change)`` (new | changed | gone)."""
    con.execute(
        f"""
        create or replace table {schema}.changed_records as
        select r.unique_id, case when p.unique_id is null then 'new' else 'changed' end as change
        from identity.records r left join {schema}.previous_records p using (unique_id)
        where p.digest is distinct from hash(r)
        union all
        select unique_id, 'gone' from {schema}.previous_records
        where unique_id not in (select unique_id from identity.records)
        """
    )
    row = con.execute(
        f"""
        select (select count(*) from identity.records),
               count(*) filter (where change = 'new'),
               count(*) filter (where change = 'changed'),
               count(*) filter (where change = 'gone'),
               (select count(*) from {schema}.rescored)
        from {schema}.changed_records
        """
    ).fetchall()[0]
    return Changes(*row)


def write_state(
    con: duckdb.DuckDBPyConnection,
    mode: str,
    identity: IdentitySettings,
    saved: dict | None,
    plan: str | None,
    prior: float | None,
    previous: Previous | None,
    stores: str | None = None,
    field_plan: str | None = None,
) -> None:
    """Record what this resolution was made with, for the next run to decide whether it may build
    on it. An increment carries over the prior (and its date) of the full run it builds on, and is
    given that run's ``field_plan`` to carry over too."""
    # Created again: a state written by an earlier version may lack the later columns.
    con.execute("drop table if exists identity.resolution_state")
    con.execute(STATE_DDL)
    full_at = "now()" if mode == "full" else "?::timestamptz"
    params = [mode, code_version(), json.dumps(settings_fingerprint(identity)), model_digest(saved), plan]
    params += [prior] + ([] if mode == "full" else [previous.full_resolved_at if previous else None])
    con.execute(
        f"insert into identity.resolution_state values (now(), ?, ?, ?, ?, ?, ?, {full_at}, ?, ?)",
        [*params, stores, field_plan],
    )


def read_raw_batches(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """``{schema}.raw_batches``: the rows of each raw table identity reads, by delivery (a file's
    rows of one load; ``_source_file``, ``_file_sha256``, ``_loaded_at``)."""
    for spec in ALL_TABLES:
        ensure_raw_schema(con, spec)
    con.execute(
        f"create or replace table {schema}.raw_batches as "
        + " union all ".join(
            f"select '{table}' as table_name, _source_file as source_file, _file_sha256 as file_sha256, "
            f"_loaded_at as loaded_at, count(*) as rows from raw.{table} group by all"
            for table in READ_TABLES
        )
    )


def write_raw_batches(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Keep ``{schema}.raw_batches`` as what this resolution standardised."""
    con.execute("drop table if exists identity.raw_batches")
    con.execute(BATCHES_DDL)
    con.execute(f"insert into identity.raw_batches select * from {schema}.raw_batches")


def _same_batch(a: str, b: str) -> str:
    return " and ".join(f"{a}.{c} is not distinct from {b}.{c}" for c in ("table_name", *BATCH_COLUMNS))


def raw_delta(con: duckdb.DuckDBPyConnection, schema: str) -> str | None:
    """Why the records cannot be standardised from the new deliveries alone (None: they can).

    When they can, writes per raw table of ``standardise.RECORD_SOURCES`` ``{schema}.delta_<table>``:
    the latest version of every record with a row in a delivery the previous resolution did not
    standardise (for web events: every event of a visitor with a new event), and
    ``{schema}.touched(unique_id)``: the identity records those rows make, or made. Deliveries are
    compared with ``identity.raw_batches`` (``read_raw_batches`` first): rows removed need a full
    standardisation (so do changed stores: ``stores_digest``, checked by the caller).
    """
    if not table_exists(con, "identity", "raw_batches"):
        return "the previous resolution kept no record of the raw deliveries it read"
    removed = con.execute(
        f"""
        select distinct p.table_name from identity.raw_batches p
        left join {schema}.raw_batches n on {_same_batch("p", "n")}
        where n.rows is null or n.rows < p.rows order by 1
        """
    ).fetchall()
    if removed:
        return f"raw rows were removed since the previous resolution ({', '.join(t for (t,) in removed)})"
    con.execute(
        f"""
        create or replace table {schema}.new_batches as
        select n.* from {schema}.raw_batches n
        left join identity.raw_batches p on {_same_batch("n", "p")}
        where p.rows is null or p.rows <> n.rows
        """
    )
    touched = []
    for source, (table, key) in RECORD_SOURCES.items():
        # Keys of the rows in new deliveries (of all their versions, for web events: the visitors
        # an event belonged to before and after).
        new_rows = (
            f"select r.{{column}} from raw.{table} r join {schema}.new_batches b "
            f"on b.table_name = '{table}' and b.source_file is not distinct from r._source_file "
            "and b.file_sha256 is not distinct from r._file_sha256 "
            "and b.loaded_at is not distinct from r._loaded_at"
        )
        if table == "ecommerce_web_events":
            con.execute(
                f"""
                create or replace table {schema}.touched_{source} as
                select distinct visitor_id as id from raw.{table}
                where event_id in ({new_rows.format(column="event_id")});
                """
            )
            rows = (
                f"event_id in (select event_id from raw.{table} "
                f"where visitor_id in (select id from {schema}.touched_{source}))"
            )
        else:
            con.execute(
                f"create or replace table {schema}.touched_{source} as "
                f"select distinct {key} as id from ({new_rows.format(column=key)})"
            )
            rows = f"{key} in (select id from {schema}.touched_{source})"
        con.execute(f"create or replace table {schema}.delta_{table} as {latest_versions_where(table, rows)}")
        touched.append(f"select '{source}:' || id as unique_id from {schema}.touched_{source}")
    con.execute(f"create or replace table {schema}.touched as {' union all '.join(touched)}")
    return None
