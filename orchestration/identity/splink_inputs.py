"""What Splink works on: the named records, the plan of the fields they populate, their capped
blocking keys, one input table per linked source, and a linker over those inputs.

A record without a name has one e-mail or phone to match on, which no model can weigh against the
namesakes sharing it: it never reaches Splink (``cluster._attach_by_unique_value`` places it).
"""

from __future__ import annotations

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


def named_records(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``splink_named``: the records with a name, with the columns Splink compares."""
    con.execute(
        """
        create or replace temp table splink_named as
        select unique_id, source_system, first_name, last_name,
               nullif(concat_ws(' ', first_name, last_name), '') as full_name,
               email, phone, birth_date, postcode, city, street, house_number,
               cdp_phonetic(last_name) as last_name_sound
        from identity.records
        where coalesce(first_name, last_name) is not null
        """
    )


def plan_model(con: duckdb.DuckDBPyConnection, min_field_share: float) -> model.ModelPlan:
    """Which fields the named records populate (share of records with a value), hence the plan."""
    row = con.execute(
        "select count(*), " + ", ".join(f"count({f})" for f in model.FIELDS) + " from splink_named"
    ).fetchall()[0]
    total = row[0] or 1
    return model.ModelPlan(
        field_share={f: n / total for f, n in zip(model.FIELDS, row[1:], strict=True)},
        min_field_share=min_field_share,
        records=row[0],
    )


def build_inputs(
    con: duckdb.DuckDBPyConnection,
    max_block: int,
    plan: model.ModelPlan | None = None,
    mark: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None,
) -> list[str]:
    """One input table per source (link_and_dedupe), holding records with a name.

    Temporary tables: Splink reads them by unqualified name, and they vanish with the connection.
    The capped blocking keys the plan supports are computed here, and kept in
    ``identity.blocking_keys`` so that an evaluation can tell which true pairs no rule compared.
    ``mark(con, table)``, when given, may add columns to the keyed records before they are split by
    source (an increment marks the records to score again).
    """
    if plan is None:  # called on its own: build the named records first
        named_records(con)
        plan = plan_model(con, 0.0)
    # Each capped blocking key (model.BLOCKING_KEYS): the first tier at most max_block records
    # share, counted across every source (link_and_dedupe compares across and within them).
    # Records per value of each tier, by aggregates joined back (one window per tier, each
    # partitioning every named record again, cost 9 s at 100k customers; these 1 s).
    tiers = {k: [f"({t})" for t in model.BLOCKING_KEYS[k][1]] for k in plan.blocking_keys}
    columns = [f"{key}_{i}" for key, ts in tiers.items() for i in range(len(ts))]
    values = "".join(f",\n {t} as {key}_{i}" for key, ts in tiers.items() for i, t in enumerate(ts))
    counts = "".join(
        f",\n n_{c} as (select {c} as v, count(*) as n from tiered where {c} is not null group by 1)"
        for c in columns
    )
    joins = "".join(f"\n left join n_{c} on n_{c}.v = t.{c}" for c in columns)
    keys = "".join(
        ",\n case "
        + " ".join(f"when n_{key}_{i}.n <= {max_block} then t.{key}_{i}" for i in range(len(ts)))
        + f" end as {key}"
        for key, ts in tiers.items()
    )
    absent = "".join(f", null::varchar as {k}" for k in model.BLOCKING_KEYS if k not in tiers)
    con.execute(
        f"""
        create or replace temp table splink_keyed as
        with tiered as (select *{values} from splink_named){counts}
        select t.unique_id, t.source_system, t.first_name, t.last_name, t.full_name, t.email, t.phone,
               t.birth_date, t.postcode, t.city, t.street, t.house_number, t.last_name_sound{keys}{absent}
        from tiered t{joins}
        """
    )
    con.execute(
        "create or replace table identity.blocking_keys as select unique_id, email, phone, "
        + ", ".join(model.BLOCKING_KEYS)
        + " from splink_keyed"
    )
    if mark is not None:
        mark(con, "splink_keyed")
    names = []
    for source in LINKED_SOURCES:
        name = f"splink_{source}"
        con.execute(
            f"create or replace temp table {name} as select * exclude (source_system) "
            f"from splink_keyed where source_system = '{source}'"
        )
        names.append(name)
    return names


@dataclass(frozen=True)
class Inputs:
    """What Splink works on: the plan of the fields present, and the registered non-empty inputs."""

    plan: model.ModelPlan
    tables: list
    names: list[str]
    db_api: DuckDBAPI

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
) -> Inputs:
    """Named records, the plan of the fields they populate (logged), blocking keys, and one
    registered Splink input per source that has records (needs ``identity.records``); Splink
    writes its tables in schema ``work``."""
    named_records(con)
    plan = plan_model(con, identity.min_field_share)
    log(
        "fields populated (share of named records): "
        + ", ".join(f"{f} {s:.1%}" for f, s in plan.field_share.items())
        + f"; used from {identity.min_field_share:.0%}: {', '.join(sorted(plan.present)) or 'none'}"
    )
    inputs = [
        name
        for name in build_inputs(con, identity.max_block_records, plan, mark)
        if con.execute(f"select count(*) from {name}").fetchall()[0][0]
    ]
    db_api = DuckDBAPI(con, output_schema=work)
    tables = [db_api.register(n, dataset_display_name=n.removeprefix("splink_")) for n in inputs]
    return Inputs(plan, tables, inputs, db_api)


def linker_over(tables: list, settings: dict | SettingsCreator) -> Linker:
    """A linker over the registered inputs: link_and_dedupe across sources, dedupe_only for one."""
    link_type = "link_and_dedupe" if len(tables) > 1 else "dedupe_only"
    if isinstance(settings, dict):
        settings = {**settings, "link_type": link_type}
    else:
        settings.link_type = link_type
    return Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.WARNING)
