"""What Splink works on: the named records, the plan of the fields they populate, their capped
blocking keys, one input table per linked source, and a linker over those inputs.

A record without a name has one e-mail or phone to match on, which no model can weigh against the
namesakes sharing it: it never reaches Splink (``cluster._attach_by_unique_value`` places it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
from splink import DuckDBAPI, Linker, SettingsCreator

from orchestration.identity import model
from orchestration.identity.config import IdentitySettings

# The sources whose named records Splink links, one input table each (``splink_<source>``).
LINKED_SOURCES = (
    "pos_tickets", "ecommerce_customers", "ecommerce_orders", "crm_contacts", "crm_tickets",
    "survey_responses",
)  # fmt: skip


# A birth date is a placeholder (01/01/1900, 11/11/1111, a form's default) when it is given with
# more distinct surnames than PLACEHOLDER_DATE_FACTOR times the median date's, and at least
# PLACEHOLDER_DATE_MIN_SURNAMES: found from the data, whatever the placeholder. Real birth dates
# spread people over some 25,000 days; a date many unrelated people share says nothing.
PLACEHOLDER_DATE_FACTOR = 10
PLACEHOLDER_DATE_MIN_SURNAMES = 10


def named_records_sql() -> dict[str, str]:
    """The queries of ``named_records``, by the temp table each one writes, in order (a Spark run
    carries the same queries over: ``spark/sql.py``)."""
    return {
        "splink_placeholder_dates": f"""
        with dated as (
            select birth_year, birth_month, birth_day, count(distinct last_name) as surnames,
                   count(*) as records
            from identity.records
            where birth_year is not null and coalesce(first_name, last_name) is not null
            group by all
        )
        select * from dated
        where surnames >= greatest(
            {PLACEHOLDER_DATE_MIN_SURNAMES}, {PLACEHOLDER_DATE_FACTOR} * (select median(surnames) from dated)
        )""",
        "splink_named": f"""
        with parts as (
            select r.*, p.birth_year is null as dated
            from identity.records r
            left join splink_placeholder_dates p using (birth_year, birth_month, birth_day)
            where coalesce(r.first_name, r.last_name) is not null
        )
        select unique_id, source_system, first_name, last_name,
               {model.full_name_sql()} as full_name,
               email, phone,
               case when dated then lpad(birth_year::varchar, 4, '0') || lpad(birth_month::varchar, 2, '0')
                                    || lpad(birth_day::varchar, 2, '0') end as birth_date,
               case when dated then birth_year end as birth_year,
               case when dated then birth_month end as birth_month,
               case when dated then birth_day end as birth_day,
               postcode, city, street, house_number,
               cdp_phonetic(last_name) as last_name_sound
        from parts""",
    }


def named_records(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``splink_named``: the records with a name, with the columns Splink compares.

    The birth date is compared by its parts as delivered: ``birth_date`` is the text YYYYMMDD of
    the parts (also when they make no calendar date), with ``birth_year``, ``birth_month`` and
    ``birth_day``; a placeholder date (``splink_placeholder_dates``) is no date at all.
    """
    for table, query in named_records_sql().items():
        con.execute(f"create or replace temp table {table} as {query}")


# The count of named records and of each field's values (``plan_from_counts``).
PLAN_SQL = "select count(*), " + ", ".join(f"count({f})" for f in model.FIELDS) + " from splink_named"


def plan_model(con: duckdb.DuckDBPyConnection, min_field_share: float) -> model.ModelPlan:
    """Which fields the named records populate (share of records with a value), hence the plan."""
    return plan_from_counts(con.execute(PLAN_SQL).fetchall()[0], min_field_share)


def plan_from_counts(row: tuple, min_field_share: float) -> model.ModelPlan:
    """The plan from ``PLAN_SQL``'s one row."""
    total = row[0] or 1
    return model.ModelPlan(
        field_share={f: n / total for f, n in zip(model.FIELDS, row[1:], strict=True)},
        min_field_share=min_field_share,
        records=row[0],
    )


# The block sizes a capped key may be refined at, smallest first (``choose_block_caps``).
BLOCK_CAPS = (5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400, 500, 750, 1000)

# Fields that tell one person from a namesake in the same household: two records of a block that
# also share one of them are likely one person (an estimate of the matches a block holds, made
# without a model: ``choose_block_caps`` spends the budget where it finds most of them).
PERSON_EVIDENCE = ("email", "phone", "birth_date")


@dataclass(frozen=True)
class Blocking:
    """How this run's blocking spends its pair budget."""

    records: int  # named records
    budget: int  # pairs the capped keys may compare: pairs_per_record x records
    block_caps: dict[str, int]  # per capped key: the largest block it forms this run
    pairs: dict[str, int]  # estimated pairs of each capped key at its cap (upper bound)
    evidence_pairs: dict[str, int]  # of those, pairs that also share an e-mail, phone or birth date

    def describe(self) -> dict[str, object]:
        return {
            "named_records": self.records,
            "pair_budget": self.budget,
            "block_caps": self.block_caps,
            "estimated_pairs_per_key": self.pairs,
            "estimated_pairs": sum(self.pairs.values()),
            "pairs_sharing_person_evidence_per_key": self.evidence_pairs,
        }


@dataclass(frozen=True)
class StoredPlan:
    """The field plan and the blocking of the last full resolution, which an increment reuses:
    estimating them reads every named record (the caps, pairs at every cap of every key), and a
    day's few records move neither."""

    plan: model.ModelPlan
    blocking: Blocking
    source: str  # whose they are, for the log: "the last full resolution's (2026-10-30 06:00)"


def plan_state(plan: model.ModelPlan, blocking: Blocking | None) -> str | None:
    """The field plan and blocking as kept in ``identity.resolution_state`` (None: no blocking)."""
    if blocking is None:
        return None
    return json.dumps(
        {
            "field_share": plan.field_share,
            "min_field_share": plan.min_field_share,
            "records": plan.records,
            "blocking": dataclasses.asdict(blocking),
        }
    )


def read_plan_state(state: str, source: str) -> StoredPlan:
    """The plan and blocking kept by ``plan_state``; ``source`` says whose they are."""
    kept = json.loads(state)
    plan = model.ModelPlan(kept["field_share"], kept["min_field_share"], kept["records"])
    return StoredPlan(plan, Blocking(**kept["blocking"]), source)


def pairs_by_cap_sql(key: str, tiers: int) -> str:
    """Per block cap: the pairs ``key`` compares when each record takes its first tier of at most
    that many records, and how many of them also share person evidence (``splink_tiered``'s
    ``n_`` and ``e_`` columns). Per record: half the block size less one, exact when tiers nest
    (an upper bound otherwise), and half its evidence partners. One row per cap of ``BLOCK_CAPS``:
    (cap, pairs, evidence pairs)."""
    tier = " ".join(f"when n{i} <= cap then {{0}}{i}" for i in range(tiers))
    return f"""
        with sized as (
            select {", ".join(f"n_{key}_{i} as n{i}, sum(e_{key}_{i}) as e{i}" for i in range(tiers))},
                   count(*) as records
            from splink_tiered group by {", ".join(f"n_{key}_{i}" for i in range(tiers))}
        )
        select cap,
               sum(records * (case {tier.format("n")} else 1 end - 1)) / 2,
               sum(case {tier.format("e")} else 0 end) / 2
        from sized, unnest([{", ".join(map(str, BLOCK_CAPS))}]) as caps(cap)
        group by cap
        """


def _pairs_by_cap(con: duckdb.DuckDBPyConnection, key: str, tiers: int) -> dict[int, tuple[int, int]]:
    """``pairs_by_cap_sql`` run: per cap, the pairs and evidence pairs."""
    return pairs_by_cap(con.execute(pairs_by_cap_sql(key, tiers)).fetchall())


def pairs_by_cap(rows: list[tuple]) -> dict[int, tuple[int, int]]:
    """``pairs_by_cap_sql``'s rows by cap, the sums whole: rounded to 1e-6 first, so that the order
    an engine sums the per-record shares in (537.9999999 or 538.0000001) does not change them."""
    return {int(cap): (int(round(pairs, 6)), int(round(evidence, 6))) for cap, pairs, evidence in rows}


def choose_block_caps(
    table: dict[str, dict[int, tuple[int, int]]], budget: int
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Each capped key's block cap, chosen greedily: every key starts at the smallest cap, then the
    raise that adds the most pairs sharing person evidence per pair added is taken, as long as the
    pairs summed over the keys fit ``budget``. Returns the caps, each key's pairs and evidence pairs.

    Keys differ forty-fold in how many matches a pair they add is worth: a full name shared by 30
    records is mostly one person, a surname and initial shared by 30 is a street of families. One
    cap for all keys spent most of the budget on the second; this spends it on the first. A raise
    that adds no pair is free (the key's blocks are all smaller): it is always taken.
    """
    caps = {key: BLOCK_CAPS[0] for key in table}
    spent = sum(table[key][BLOCK_CAPS[0]][0] for key in table)
    while True:
        best = None  # (evidence gained per pair added, -pairs added, key, cap)
        for key, cap in caps.items():
            pairs, evidence = table[key][cap]
            for higher in BLOCK_CAPS[BLOCK_CAPS.index(cap) + 1 :]:
                added, gained = table[key][higher][0] - pairs, table[key][higher][1] - evidence
                step = (gained / added if added > 0 else float("inf"), -added, key, higher)
                if spent + added <= budget and (best is None or step[:2] > best[:2]):
                    best = step
        if best is None:
            break
        _, minus_added, key, cap = best
        caps[key], spent = cap, spent - minus_added
    return (
        caps,
        {key: table[key][cap][0] for key, cap in caps.items()},
        {key: table[key][cap][1] for key, cap in caps.items()},
    )


def size_tiers_sql(tiers: dict[str, list[str]], evidence: list[str] | None) -> dict[str, str]:
    """The queries of temp table ``splink_tiered`` by the temp table each writes, in order (both
    engines run them): the named records with every tier of every capped key (``<key>_<i>``),
    the records sharing it (``n_<key>_<i>``) and, unless ``evidence`` is None (the caps are known:
    sizes only), its share of the pairs that also share a field of
    ``evidence`` (``e_<key>_<i>``, what ``_pairs_by_cap`` sums).

    Each capped blocking key (model.BLOCKING_KEYS): the first tier at most its cap of records
    share, counted across every source (link_and_dedupe compares across and within them). Per
    value of each tier, in one aggregate joined back (a window per tier, each partitioning every
    named record again, cost 9 s at 100k customers): its records, and twice the pairs among them
    that also share an evidence field (records of a block take the same tier when tiers nest,
    so each record is given its block's mean of such partners).
    """
    columns = [f"{key}_{i}" for key, ts in tiers.items() for i in range(len(ts))]
    sizes_only = evidence is None
    evidence = evidence or []
    values = "".join(f",\n {t} as {key}_{i}" for key, ts in tiers.items() for i, t in enumerate(ts))
    # Counted by 64-bit hashes of the values, not the text: a third of the time.
    hashes = "".join(f", hash({c}) as h_{c}" for c in columns) + "".join(
        f", case when {f} is not null then hash({f}) end as h_{f}" for f in evidence
    )
    # The value's hash (``{0}``) is in every set, named as the column (Spark's grouping_id does not
    # take a select alias), and given to grouping_id as Spark requires: its bit, the highest, is 0,
    # and the set of the value alone has every other bit set.
    sets = ", ".join(["({0})", *(f"({{0}}, h_{f})" for f in evidence)])
    alone = "grouping_id(" + ", ".join(["{0}", *(f"h_{f}" for f in evidence)]) + ")" if evidence else "0"
    full = 2 ** len(evidence) - 1  # the grouping id of the set (v) alone
    shared = "coalesce(" + ", ".join([*(f"h_{f}" for f in evidence), "null"]) + ")"  # a set (v, field)
    if not sizes_only:
        counts = ",\n".join(
            f"""
            g_{c} as (select h_{c} as v{"".join(f", h_{f}" for f in evidence)}, {alone.format("h_" + c)} as g,
                             count(*) as n
                      from splink_tiers where {c} is not null
                      group by grouping sets ({sets.format("h_" + c)})),
            b_{c} as (select v, sum(n) filter (where g = {full}) as n,
                             coalesce(sum(n * (n - 1)) filter (
                                 where g <> {full} and {shared} is not null
                             ), 0) as e
                      from g_{c} group by v)"""
            for c in columns
        )
        sized = "".join(
            f", b_{c}.n as n_{c}, least(b_{c}.e / b_{c}.n, b_{c}.n - 1) as e_{c}" for c in columns
        )
    else:
        counts = ",\n".join(
            f"b_{c} as (select h_{c} as v, count(*) as n from splink_tiers where {c} is not null group by v)"
            for c in columns
        )
        sized = "".join(f", b_{c}.n as n_{c}" for c in columns)
    joins = "".join(f"\n left join b_{c} on b_{c}.v = t.h_{c} and t.{c} is not null" for c in columns)
    hashed = ", ".join(f"h_{c}" for c in [*columns, *evidence])
    return {
        "splink_tiers": f"select *{hashes} from (select *{values} from splink_named)",
        "splink_tiered": f"""
        {f"with {counts}" if columns else ""}
        select t.*{f" exclude ({hashed})" if hashed else ""}{sized}
        from splink_tiers t{joins}""",
    }


def _size_tiers(
    con: duckdb.DuckDBPyConnection, tiers: dict[str, list[str]], evidence: list[str] | None
) -> None:
    """``size_tiers_sql`` run: temp table ``splink_tiered``."""
    for table, query in size_tiers_sql(tiers, evidence).items():
        con.execute(f"create or replace temp table {table} as {query}")
    con.execute("drop table splink_tiers")


def build_inputs(
    con: duckdb.DuckDBPyConnection,
    pairs_per_record: float,
    plan: model.ModelPlan | None = None,
    mark: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None,
    blocking: Blocking | None = None,
) -> tuple[list[str], Blocking]:
    """One input table per source (link_and_dedupe), holding records with a name, and how the
    blocking spent its budget.

    Temporary tables: Splink reads them by unqualified name, and they vanish with the connection.
    The capped blocking keys the plan supports are computed here, and kept in
    ``identity.blocking_keys`` so that an evaluation can tell which true pairs no rule compared.
    ``mark(con, table)``, when given, may add columns to the keyed records before they are split by
    source (an increment marks the records to score again). ``blocking``, when given (an increment:
    the last full resolution's), fixes the block caps: only the block sizes are counted, not the
    pairs every cap would compare.
    """
    if plan is None:  # called on its own: build the named records first
        named_records(con)
        plan = plan_model(con, 0.0)
    tiers = plan_tiers(plan)
    evidence = None if blocking is not None else [f for f in PERSON_EVIDENCE if f in plan.present]
    _size_tiers(con, tiers, evidence)
    if blocking is None:
        table = {key: _pairs_by_cap(con, key, len(ts)) for key, ts in tiers.items()}
        records = con.execute("select count(*) from splink_named").fetchall()[0][0]
        blocking = choose_blocking(table, records, pairs_per_record)
    con.execute(f"create or replace temp table splink_keyed as {keyed_sql(tiers, blocking)}")
    con.execute("drop table splink_tiered")
    con.execute(f"create or replace table identity.blocking_keys as {BLOCKING_KEYS_SQL}")
    if mark is not None:
        mark(con, "splink_keyed")
    names = []
    for source in LINKED_SOURCES:
        name = f"splink_{source}"
        con.execute(f"create or replace temp table {name} as {source_input_sql(source)}")
        names.append(name)
    return names, blocking


def plan_tiers(plan: model.ModelPlan) -> dict[str, list[str]]:
    """The tiers of every capped blocking key the plan supports (``model.BLOCKING_KEYS``)."""
    return {k: [f"({t})" for t in model.BLOCKING_KEYS[k][1]] for k in plan.blocking_keys}


def choose_blocking(
    table: dict[str, dict[int, tuple[int, int]]], records: int, pairs_per_record: float
) -> Blocking:
    """The block caps for ``records`` named records (``choose_block_caps`` on ``_pairs_by_cap``'s
    figures per key), within a budget of ``pairs_per_record`` per record."""
    budget = int(pairs_per_record * records)
    return Blocking(records, budget, *choose_block_caps(table, budget))


def keyed_sql(tiers: dict[str, list[str]], blocking: Blocking) -> str:
    """Temp table ``splink_keyed``: the named records with each capped key at its first tier of at
    most the key's cap of records (null when none is), from ``splink_tiered``."""
    caps = blocking.block_caps
    keys = "".join(
        ",\n case "
        + " ".join(f"when n_{key}_{i} <= {caps[key]} then {key}_{i}" for i in range(len(ts)))
        + f" end as {key}"
        for key, ts in tiers.items()
    )
    absent = "".join(f", null::varchar as {k}" for k in model.BLOCKING_KEYS if k not in tiers)
    return f"""
        select unique_id, source_system, first_name, last_name, full_name, email, phone,
               birth_date, birth_year, birth_month, birth_day, postcode, city, street, house_number,
               last_name_sound{keys}{absent}
        from splink_tiered"""


# ``identity.blocking_keys``: each named record's keys, kept for evaluations and the guards.
BLOCKING_KEYS_SQL = (
    "select unique_id, email, phone, "
    + ", ".join(model.BLOCKING_KEYS)
    + ", birth_date as birth_date_compared from splink_keyed"
)


def source_input_sql(source: str) -> str:
    """Splink's input for one linked source: its keyed records."""
    return f"select * exclude (source_system) from splink_keyed where source_system = '{source}'"


@dataclass(frozen=True)
class Inputs:
    """What Splink works on: the plan of the fields present, and the registered non-empty inputs."""

    plan: model.ModelPlan
    tables: list
    names: list[str]
    db_api: DuckDBAPI
    blocking: Blocking | None = None

    @property
    def scorable(self) -> bool:
        """Whether there is anything to score: a named record, and a comparison the data supports."""
        return bool(self.tables and self.plan.comparisons)


def prepare_inputs(
    con: duckdb.DuckDBPyConnection,
    identity: IdentitySettings,
    log,
    work: str,
    mark: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None,
    stored: StoredPlan | None = None,
) -> Inputs:
    """Named records, the plan of the fields they populate (logged), blocking keys, and one
    registered Splink input per source that has records (needs ``identity.records``); Splink
    writes its tables in schema ``work``. ``stored`` (an increment): the plan and block caps to
    use, instead of estimating them over every named record."""
    named_records(con)
    plan = plan_model(con, identity.min_field_share) if stored is None else stored.plan
    whose = "" if stored is None else f"{stored.source}, "
    log(
        f"fields populated ({whose}share of named records): "
        + ", ".join(f"{f} {s:.1%}" for f, s in plan.field_share.items())
        + f"; used from {identity.min_field_share:.0%}: {', '.join(sorted(plan.present)) or 'none'}"
    )
    placeholders = con.execute(
        "select birth_year, birth_month, birth_day, surnames from splink_placeholder_dates "
        "order by surnames desc"
    ).fetchall()
    if placeholders:
        log(
            f"birth dates taken for placeholders (given with too many surnames): {len(placeholders)}, "
            + ", ".join(f"{y:04d}-{m:02d}-{d:02d} ({n} surnames)" for y, m, d, n in placeholders[:5])
        )
    names, blocking = build_inputs(
        con, identity.pairs_per_record, plan, mark, None if stored is None else stored.blocking
    )
    log(
        f"blocking: {whose}budget {blocking.budget:,} pairs "
        f"({identity.pairs_per_record:g} per named record), "
        "per key: blocks refined beyond (cap) records, estimated pairs: "
        + ", ".join(f"{k} ({blocking.block_caps[k]}) {n:,}" for k, n in blocking.pairs.items())
    )
    inputs = [name for name in names if con.execute(f"select count(*) from {name}").fetchall()[0][0]]
    db_api = DuckDBAPI(con, output_schema=work)
    tables = [db_api.register(n, dataset_display_name=n.removeprefix("splink_")) for n in inputs]
    return Inputs(plan, tables, inputs, db_api, blocking)


def linker_over(tables: list, settings: dict | SettingsCreator) -> Linker:
    """A linker over the registered inputs: link_and_dedupe across sources, dedupe_only for one."""
    link_type = "link_and_dedupe" if len(tables) > 1 else "dedupe_only"
    if isinstance(settings, dict):
        settings = {**settings, "link_type": link_type}
    else:
        settings.link_type = link_type
    return Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.WARNING)
