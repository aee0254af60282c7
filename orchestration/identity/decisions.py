"""Steward decisions: a person's corrections of the identity graph, applied by every run.

A data steward who sees two customers that are one person, or one customer that is two, records a
**decision** instead of changing the model:

- a **must-link** joins two records (or a record and a customer, or two customers) whatever the
  model and the guards say: it is a link no guard refuses (reported when it contradicts strong
  evidence: a different birth date or phone on its two records, a pair Splink scored low);
- a **cannot-link** keeps two groups of records apart: no link joins a cluster holding one of
  them to a cluster holding one of the other, not a probabilistic one, not an attachment, not even
  an exact identifier (a household's shared loyalty card is the usual case).

Decisions refer to source records by their stable id (``source_system:source_record_id``), never to
unstable cluster labels. A customer named in a decision is turned into records when the decision
is made: for a must-link, its smallest record (its anchor: the customer's other records follow the
evidence, so a model change may still move them); for a cannot-link, all its records then (a
cannot-link from some records of a customer to that customer keeps them apart from the rest).

The decisions live in the data folder (``identity/steward_decisions.jsonl``, append-only: one line
per decision or revocation, with who, when and why), like the privacy lists: a warehouse rebuilt
from the landing files applies them again. Each resolution copies them into
``identity.steward_decisions`` (every decision, revoked ones with who revoked them and why) and
writes what became of each active one in ``identity.steward_decision_status``.

Customer ids follow the usual survival rules (``stable_ids``): when a must-link merges two customers
the older id survives and the other is recorded as merged into it; when a cannot-link splits one,
the part holding most of its records keeps the id.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.warehouse import table_exists

MUST_LINK = "must_link"
CANNOT_LINK = "cannot_link"
KINDS = (MUST_LINK, CANNOT_LINK)
# The method of a must-link's edge in identity.edges (and in the records' match method).
STEWARD_METHOD = "steward:must-link"

DECISIONS_COLUMNS = """ (
    decision_id varchar primary key,   -- D1, D2, ... in the order they were made
    number integer not null,           -- 1, 2, ...: a cannot-link's token in the merge walk
    kind varchar not null,             -- must_link | cannot_link
    side_a varchar[] not null,         -- records (source_system:source_record_id)
    side_b varchar[] not null,
    named_a varchar not null,          -- what the steward named: a record or a customer id
    named_b varchar not null,
    decided_by varchar not null,
    decided_at timestamptz not null,
    why varchar,
    revoked_by varchar,
    revoked_at timestamptz,
    revoked_why varchar
)
"""
DECISIONS_DDL = "create or replace table identity.steward_decisions" + DECISIONS_COLUMNS
STATUS_COLUMNS = """ (
    decision_id varchar primary key,
    kind varchar not null,
    holds boolean not null,            -- the clusters are as the decision says
    note varchar                       -- why not, or what it overrode
)
"""
STATUS_DDL = "create or replace table identity.steward_decision_status" + STATUS_COLUMNS
# For readers of a warehouse resolved before decisions existed (the identity checks).
STATUS_IF_MISSING_DDL = (
    "create schema if not exists identity; "
    "create table if not exists identity.steward_decision_status" + STATUS_COLUMNS
)
DECISIONS_IF_MISSING_DDL = "create table if not exists identity.steward_decisions" + DECISIONS_COLUMNS


class DecisionError(ValueError):
    """A decision that cannot be recorded or read: the message says which and why."""


@dataclass(frozen=True)
class Decision:
    """One steward decision, and its revocation if any."""

    decision_id: str
    kind: str
    side_a: tuple[str, ...]
    side_b: tuple[str, ...]
    named_a: str
    named_b: str
    decided_by: str
    decided_at: str
    why: str = ""
    revoked_by: str | None = None
    revoked_at: str | None = None
    revoked_why: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def number(self) -> int:
        """The decision's sequence number (D7 → 7): a cannot-link's token in the merge walk."""
        return int(self.decision_id[1:])


@dataclass
class Decisions:
    """Every decision of a data folder's file, in the order made."""

    path: Path
    items: list[Decision] = field(default_factory=list)

    @property
    def active(self) -> list[Decision]:
        return [d for d in self.items if d.active]

    def find(self, decision_id: str) -> Decision:
        for decision in self.items:
            if decision.decision_id == decision_id.upper():
                return decision
        raise DecisionError(f"{self.path}: no decision {decision_id} (see `cdp identity decisions`)")


def read_decisions(path: Path) -> Decisions:
    """The decisions of ``path`` (none when it does not exist). A line that cannot be read stops with
    an error naming the file and the line: a decision silently skipped would undo a correction."""
    decisions = Decisions(path)
    if not path.exists():
        return decisions
    by_id: dict[str, Decision] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            event = json.loads(line)
            if event["event"] == "decided":
                if event["kind"] not in KINDS:
                    raise DecisionError(f"{where}: kind {event['kind']!r} is not one of {', '.join(KINDS)}")
                decision = Decision(
                    event["decision_id"], event["kind"], tuple(event["side_a"]), tuple(event["side_b"]),
                    event["named_a"], event["named_b"], event["by"], event["at"], event.get("why") or "",
                )  # fmt: skip
                if decision.decision_id in by_id:
                    raise DecisionError(f"{where}: decision {decision.decision_id} is recorded twice")
                by_id[decision.decision_id] = decision
            elif event["event"] == "revoked":
                decision = by_id.get(event["decision_id"])
                if decision is None:
                    raise DecisionError(f"{where}: revokes {event['decision_id']}, which no line before made")
                by_id[decision.decision_id] = Decision(
                    **{**decision.__dict__, "revoked_by": event["by"], "revoked_at": event["at"],
                       "revoked_why": event.get("why") or ""}
                )  # fmt: skip
            else:
                raise DecisionError(f"{where}: event {event['event']!r} is neither 'decided' nor 'revoked'")
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DecisionError(f"{where}: not a decision line ({error!r})") from None
    decisions.items = list(by_id.values())
    return decisions


def _append(path: Path, event: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(event, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())


def steward() -> str:
    """Who decides, by default: the system user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def records_of(con: duckdb.DuckDBPyConnection, named: str) -> list[str]:
    """The records ``named`` designates: a record id (``source_system:source_record_id``) or the
    records a customer id holds in the last resolution."""
    if not table_exists(con, "identity", "customer_source_records"):
        raise DecisionError("no identity resolution in the warehouse yet: run `cdp run` first")
    if ":" in named:
        found = con.execute("select count(*) from identity.records where unique_id = ?", [named]).fetchall()
        if not found[0][0]:
            raise DecisionError(f"no identity record {named!r} (a record is source_system:source_record_id)")
        return [named]
    rows = con.execute(
        "select unique_id from identity.customer_source_records where customer_id = ? order by unique_id",
        [named],
    ).fetchall()
    if not rows:
        raise DecisionError(f"no customer {named!r} in the last resolution, and not a record id")
    return [r[0] for r in rows]


def decide(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    kind: str,
    named_a: Sequence[str],
    named_b: str,
    why: str,
    by: str | None = None,
) -> Decision:
    """Record a decision between ``named_a`` (records, or one customer) and ``named_b`` (a record or
    a customer), reading the warehouse ``con`` to turn customers into records; returns it.

    A must-link takes each side's anchor (its smallest record). A cannot-link takes every record of
    each side; when ``named_b`` is a customer holding records of side a, side b is its other
    records (``split pos:1,pos:2 C123``: those records are not that customer)."""
    if kind not in KINDS:
        raise DecisionError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    side_a = sorted({r for name in named_a for r in records_of(con, name)})
    side_b = sorted(set(records_of(con, named_b)) - set(side_a))
    if not side_b:
        raise DecisionError(f"{named_b} holds no record outside {', '.join(named_a)}: nothing to decide")
    if kind == MUST_LINK:
        side_a, side_b = side_a[:1], side_b[:1]
    decisions = read_decisions(path)
    for other in decisions.active:
        if other.kind == kind and {other.side_a, other.side_b} == {tuple(side_a), tuple(side_b)}:
            raise DecisionError(f"decision {other.decision_id} on the same records says the same")
        if other.kind != kind and _opposed(other, side_a, side_b):
            raise DecisionError(
                f"decision {other.decision_id} on the same records says the opposite: "
                f"revoke it first (cdp identity decisions revoke {other.decision_id})"
            )
    decision = Decision(
        f"D{len(decisions.items) + 1}", kind, tuple(side_a), tuple(side_b), ",".join(named_a), named_b,
        by or steward(), datetime.now(UTC).isoformat(timespec="seconds"), why,
    )  # fmt: skip
    _append(
        path,
        {"event": "decided", "decision_id": decision.decision_id, "kind": kind, "side_a": side_a,
         "side_b": side_b, "named_a": decision.named_a, "named_b": named_b, "by": decision.decided_by,
         "at": decision.decided_at, "why": why},
    )  # fmt: skip
    return decision


def _opposed(other: Decision, side_a: Sequence[str], side_b: Sequence[str]) -> bool:
    """Whether a decision of the other kind links what ``other`` keeps apart (or the reverse): a
    must-link's two anchors on the two sides of the cannot-link."""
    must, cannot = ((other.side_a, other.side_b), (side_a, side_b))
    if other.kind == CANNOT_LINK:
        must, cannot = cannot, must
    (x,), (y,) = must[0][:1], must[1][:1]
    a, b = set(cannot[0]), set(cannot[1])
    return (x in a and y in b) or (x in b and y in a)


def revoke(path: Path, decision_id: str, why: str, by: str | None = None) -> Decision:
    """Revoke an active decision: the next run clusters its records as the model says."""
    decision = read_decisions(path).find(decision_id)
    if not decision.active:
        raise DecisionError(f"{decision.decision_id} was already revoked on {decision.revoked_at}")
    event = {"event": "revoked", "decision_id": decision.decision_id, "by": by or steward(),
             "at": datetime.now(UTC).isoformat(timespec="seconds"), "why": why}  # fmt: skip
    _append(path, event)
    return read_decisions(path).find(decision.decision_id)


# --- What a resolution does with them ---------------------------------------------------------------


def load(con: duckdb.DuckDBPyConnection, decisions: Decisions, work: str) -> None:
    """``identity.steward_decisions`` (every decision) and, for the clustering, ``{work}.must_links``
    (the active must-links' anchor pairs present in the records, oldest first) and
    ``{work}.apart`` (per record of an active cannot-link, its token: +n on side a of decision Dn,
    -n on side b)."""
    items = decisions.items
    con.execute(DECISIONS_DDL)
    table = pa.table(
        {
            "decision_id": [d.decision_id for d in items],
            "number": [d.number for d in items],
            "kind": [d.kind for d in items],
            "side_a": [list(d.side_a) for d in items],
            "side_b": [list(d.side_b) for d in items],
            "named_a": [d.named_a for d in items],
            "named_b": [d.named_b for d in items],
            "decided_by": [d.decided_by for d in items],
            "decided_at": [datetime.fromisoformat(d.decided_at) for d in items],
            "why": [d.why for d in items],
            "revoked_by": [d.revoked_by for d in items],
            "revoked_at": [d.revoked_at and datetime.fromisoformat(d.revoked_at) for d in items],
            "revoked_why": [d.revoked_why for d in items],
        },
        schema=pa.schema(
            [
                ("decision_id", pa.string()), ("number", pa.int32()), ("kind", pa.string()),
                ("side_a", pa.list_(pa.string())),
                ("side_b", pa.list_(pa.string())), ("named_a", pa.string()), ("named_b", pa.string()),
                ("decided_by", pa.string()), ("decided_at", pa.timestamp("us", tz="UTC")),
                ("why", pa.string()), ("revoked_by", pa.string()),
                ("revoked_at", pa.timestamp("us", tz="UTC")), ("revoked_why", pa.string()),
            ]
        ),
    )  # fmt: skip
    con.register("_decisions", table)
    con.execute("insert into identity.steward_decisions select * from _decisions")
    con.unregister("_decisions")
    work_tables(con, work)


def work_tables(con: duckdb.DuckDBPyConnection, work: str) -> None:
    """``{work}.must_links`` and ``{work}.apart`` from ``identity.steward_decisions`` (``load``), for
    a clustering of ``identity.records``."""
    con.execute(
        f"""
        create or replace table {work}.must_links as
        select least(side_a[1], side_b[1]) as unique_id_l, greatest(side_a[1], side_b[1]) as unique_id_r,
               decision_id, number
        from identity.steward_decisions
        where kind = '{MUST_LINK}' and revoked_at is null
          and side_a[1] in (select unique_id from identity.records)
          and side_b[1] in (select unique_id from identity.records);

        create or replace table {work}.apart as
        select distinct r.unique_id, s.token from (
            select unnest(side_a) as unique_id, number as token
            from identity.steward_decisions where kind = '{CANNOT_LINK}' and revoked_at is null
            union all
            select unnest(side_b), -number
            from identity.steward_decisions where kind = '{CANNOT_LINK}' and revoked_at is null
        ) s join identity.records r using (unique_id);
        """
    )


def ensure_loaded(con: duckdb.DuckDBPyConnection, work: str) -> None:
    """Empty ``{work}.must_links`` and ``{work}.apart`` when no decisions were loaded (a clustering
    called on its own, as tests do): no decision, nothing to apply."""
    con.execute(
        f"""
        create table if not exists {work}.must_links
            (unique_id_l varchar, unique_id_r varchar, decision_id varchar, number integer);
        create table if not exists {work}.apart (unique_id varchar, token integer);
        """
    )


def changed_records(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: the records of every decision made or revoked since the previous resolution applied the
    decisions (``identity.steward_decisions_applied``): an increment clusters their parts again."""
    current = """
        select decision_id, kind, side_a, side_b from identity.steward_decisions where revoked_at is null
    """
    previous = (
        "select decision_id, kind, side_a, side_b from identity.steward_decisions_applied"
        if table_exists(con, "identity", "steward_decisions_applied")
        else "select null::varchar, null::varchar, null::varchar[], null::varchar[] where false"
    )
    return f"""
        with changed as (
            ({current} except {previous}) union all ({previous} except {current})
        )
        select distinct unnest(side_a) as unique_id from changed
        union select distinct unnest(side_b) from changed
    """


def keep_applied(con: duckdb.DuckDBPyConnection) -> None:
    """Remember the active decisions this resolution applied (``changed_records`` compares with them)."""
    con.execute(
        "create or replace table identity.steward_decisions_applied as "
        "select decision_id, kind, side_a, side_b from identity.steward_decisions where revoked_at is null"
    )


def write_status(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, bool, str | None]]:
    """``identity.steward_decision_status``: whether each active decision holds in the clusters, and
    why not (a record gone, another decision); for a must-link that holds, what it overrode. Returns
    its rows."""
    con.execute(STATUS_DDL)
    con.execute(
        f"""
        insert into identity.steward_decision_status
        with sides as (
            select d.decision_id, d.number, d.kind, 'a' as side, unnest(d.side_a) as unique_id
            from identity.steward_decisions d where d.revoked_at is null
            union all
            select d.decision_id, d.number, d.kind, 'b', unnest(d.side_b)
            from identity.steward_decisions d where d.revoked_at is null
        ),
        placed as (
            select s.*, c.cluster_id from sides s left join identity.clusters c using (unique_id)
        ),
        per_decision as (
            select decision_id, any_value(kind) as kind, any_value(number) as number,
                   count(*) filter (where cluster_id is null) as gone,
                   count(*) filter (where side = 'a' and cluster_id in (
                       select p.cluster_id from placed p
                       where p.decision_id = placed.decision_id and p.side = 'b')) as shared
            from placed group by decision_id
        ),
        overridden as (
            select m.decision_id, max(s.match_probability) as probability,
                   concat_ws(', ',
                       case when l.birth_date <> r.birth_date then 'birth dates' end,
                       case when l.phone <> r.phone then 'phones' end,
                       case when l.loyalty_card <> r.loyalty_card then 'loyalty cards' end,
                       case when l.account_id <> r.account_id then 'web accounts' end,
                       case when l.first_name <> r.first_name then 'first names' end) as differing
            from identity.steward_decisions m
            join identity.records l on l.unique_id = m.side_a[1]
            join identity.records r on r.unique_id = m.side_b[1]
            left join identity.scored_edges s
              on s.unique_id_l = least(m.side_a[1], m.side_b[1])
             and s.unique_id_r = greatest(m.side_a[1], m.side_b[1])
            where m.kind = '{MUST_LINK}' and m.revoked_at is null
            group by all
        )
        select p.decision_id, p.kind,
               case when p.gone > 0 then false
                    when p.kind = '{MUST_LINK}' then p.shared > 0
                    else p.shared = 0 end as holds,
               case when p.gone > 0 then p.gone || ' of its records are no longer in the data'
                    when p.kind = '{MUST_LINK}' and p.shared = 0
                        then 'not joined: another steward decision keeps its records apart'
                    when p.kind = '{CANNOT_LINK}' and p.shared > 0
                        then 'not apart: a must-link joins its records'
                    when p.kind = '{MUST_LINK}' and (o.differing <> '' or o.probability < 0.5)
                        then 'joined against the evidence: '
                             || concat_ws('; ', nullif('different ' || o.differing, 'different '),
                                          'Splink scored the pair ' || round(o.probability, 3))
               end as note
        from per_decision p left join overridden o using (decision_id)
        """
    )
    return con.execute(
        "select s.decision_id, s.kind, s.holds, s.note from identity.steward_decision_status s "
        "join identity.steward_decisions d using (decision_id) order by d.number"
    ).fetchall()
