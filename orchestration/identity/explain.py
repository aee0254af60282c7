"""Why two records are, or are not, one customer (``cdp identity explain A B``).

A pair ends apart or together in one of few ways, each leaving a trace in the warehouse:

- a record without a name never reaches Splink (``splink_inputs``): only exact links and
  attachments can place it;
- no blocking rule puts the two in one block (``identity.blocking_keys``): Splink never compared
  them;
- they were compared but scored below ``matching.match_probability`` (pairs under
  ``IdentitySettings.scored_floor`` are not kept: the pair is scored again here, with the run's
  model and prior, to say by how much);
- their link was refused: the pair guard on first names, or a conflict between the two clusters
  the link would have joined (``merge``; ``identity.edges.guard`` says which);
- their customer grew beyond ``matching.max_cluster_size`` and was kept to its deterministic
  links (``identity.flagged_clusters``);
- or they are one customer: linked directly, or through other records (a shortest path).

The warehouse is attached read-only to an in-memory database, as ``evaluate.evaluate_warehouse``
does: explaining never writes it.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from orchestration.identity.cluster import FIRST_NAME_GUARD
from orchestration.identity.config import IdentitySettings, load_identity_settings
from orchestration.identity.evaluate import NOT_RULES
from orchestration.identity.model import TERM_FREQUENCY_COLUMNS, full_name_sql
from orchestration.lib.sql import literal

# Standardised attributes shown side by side, in this order, when ``identity.records`` has them.
ATTRIBUTES = (
    "first_name", "last_name", "email", "phone", "birth_date", "birth_year", "birth_month", "birth_day",
    "postcode", "city", "street", "house_number", "loyalty_card", "account_id",
)  # fmt: skip
# Columns Splink's comparisons read.
COMPARED = ("first_name", "last_name", "full_name", "email", "phone", "birth_date", "postcode", "city",
            "street", "house_number")  # fmt: skip
# A customer this large is not searched for a path between two records (its size is given).
MAX_PATH_RECORDS = 5000


class UnknownRecord(ValueError):
    """A record id the warehouse does not hold."""


class NotResolved(ValueError):
    """The warehouse holds no identity resolution to explain."""


@dataclass(frozen=True)
class Record:
    unique_id: str
    customer_id: str | None
    attributes: dict[str, object]
    in_flagged_cluster: bool = False


@dataclass(frozen=True)
class Level:
    """One comparison of a scored pair: its level (Splink's gamma), what it means, its weight."""

    comparison: str
    level: int
    label: str
    weight: float


@dataclass(frozen=True)
class Score:
    probability: float
    weight: float
    # 'kept': identity.scored_edges; 'rescored': computed here with the run's model and prior.
    source: str
    levels: tuple[Level, ...] = ()


@dataclass(frozen=True)
class Link:
    left: str
    right: str
    method: str
    probability: float | None
    guard: str | None

    @property
    def kind(self) -> str:
        """The method, with the probability of a probabilistic link: 'probabilistic, 0.97'."""
        kind = self.method.replace(":", ": ", 1)
        if self.method == "probabilistic" and self.probability is not None:
            kind += f", {self.probability:.2f}"
        return kind

    def describe(self) -> str:
        return f"{self.left} — {self.right} ({self.kind})" + (
            f", refused: {self.guard}" if self.guard else ""
        )


@dataclass(frozen=True)
class Explanation:
    verdict: str
    left: Record
    right: Record
    same_customer: bool
    # Whether both records have a name (only those reach Splink).
    named: bool
    # Blocking rule → (left key, right key), and the rules whose keys the two share.
    blocking_keys: dict[str, tuple[str | None, str | None]]
    shared_rules: tuple[str, ...]
    score: Score | None
    threshold: float
    run_threshold: float | None
    floor: float  # the lowest probability of a kept scored pair (IdentitySettings.scored_floor)
    # Edges between the two records (probabilistic, deterministic, attached), refused or not.
    direct: tuple[Link, ...]
    # Other edges between the two customers (when apart), refused or not.
    between: tuple[Link, ...]
    # Per refused conflict: the attribute's values in each customer.
    conflicts: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    # Same customer: the links of a shortest path between them, and the customer's records.
    path: tuple[Link, ...] = ()
    customer_records: int = 0
    notes: tuple[str, ...] = ()
    # conflicts.* of the settings in force.
    policies: dict[str, str] = field(default_factory=dict)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def _identity_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0]
        for r in _rows(
            con,
            "select table_name from duckdb_tables() where database_name = 'wh' and schema_name = 'identity'",
        )
    }


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"select * from wh.identity.{table} limit 0").description]


def _record(con: duckdb.DuckDBPyConnection, unique_id: str, attributes: list[str]) -> Record:
    row = _rows(
        con,
        f"""
        select c.customer_id, coalesce(c.in_flagged_cluster, false), {", ".join(f"r.{a}" for a in attributes)}
        from wh.identity.records r
        left join wh.identity.customer_source_records c using (unique_id)
        where r.unique_id = ?
        """,
        [unique_id],
    )
    if not row:
        raise UnknownRecord(
            f"no record {unique_id!r} in identity.records: a record id is "
            "source_system:source_record_id, e.g. crm_contacts:50006 or pos_tickets:M001-20260110-000000001"
        )
    customer_id, flagged, *values = row[0]
    return Record(unique_id, customer_id, dict(zip(attributes, values, strict=True)), flagged)


def _state(con: duckdb.DuckDBPyConnection, tables: set[str]) -> dict | None:
    """The latest resolution's settings, plan, model digest and prior (``incremental.write_state``)."""
    if "resolution_state" not in tables:
        return None
    rows = _rows(
        con,
        "select settings, plan, model_digest, prior from wh.identity.resolution_state "
        "order by resolved_at desc limit 1",
    )
    if not rows:
        return None
    settings, plan, digest, prior = rows[0]
    return {
        "settings": json.loads(settings) if settings else {},
        "plan": json.loads(plan) if plan else {},
        "model_digest": digest,
        "prior": prior,
    }


def _blocking(
    con: duckdb.DuckDBPyConnection, a: str, b: str, state: dict | None
) -> tuple[bool, dict[str, tuple[str | None, str | None]]]:
    """Whether both records reached Splink (a blocking_keys row each), and each rule's two keys."""
    rules = [c for c in _columns(con, "blocking_keys") if c not in NOT_RULES]
    used = (state or {}).get("plan", {}).get("blocking_rules")
    if used:
        rules = [r for r in rules if r in used]
    rows = dict(
        (r[0], r[1:])
        for r in _rows(
            con,
            f"select unique_id, {', '.join(rules)} from wh.identity.blocking_keys where unique_id in (?, ?)",
            [a, b],
        )
    )
    if a not in rows or b not in rows:
        return False, {}
    return True, {rule: (rows[a][i], rows[b][i]) for i, rule in enumerate(rules)}


def _kept_score(
    con: duckdb.DuckDBPyConnection, a: str, b: str, labels: dict, gammas: dict[str, int] | None = None
) -> Score | None:
    """The pair as the run scored it (``identity.scored_edges``), each comparison with its weight.

    Scored pairs keep each comparison's weight (``mw_``, ``mw_tf_adj_``) but not its level: Splink
    writes ``gamma_`` only beside the compared values, which scoring leaves out
    (``model.fit_to_plan``). The levels are then ``gammas``: the pair compared again with the run's
    model, which gives the same levels for the same records (a warehouse scored before keeps its
    ``gamma_`` columns, read as they are)."""
    columns = _columns(con, "scored_edges")
    comparisons = [
        c.removeprefix("mw_") for c in columns if c.startswith("mw_") and not c.startswith("mw_tf_")
    ]
    adjusted = {c: f"mw_tf_adj_{c}" if f"mw_tf_adj_{c}" in columns else "0" for c in comparisons}
    level = {
        c: f"gamma_{c}" if f"gamma_{c}" in columns else f"{(gammas or {}).get(c, 'null')}"
        for c in comparisons
    }
    parts = "".join(f", {level[c]}, coalesce(mw_{c}, 0) + coalesce({adjusted[c]}, 0)" for c in comparisons)
    rows = _rows(
        con,
        f"select match_probability, match_weight{parts} from wh.identity.scored_edges "
        "where (unique_id_l = ? and unique_id_r = ?) or (unique_id_l = ? and unique_id_r = ?)",
        [a, b, b, a],
    )
    if not rows:
        return None
    row = rows[0]
    return Score(row[0], row[1], "kept", _levels(comparisons, row[2:], labels))


def _levels(comparisons: list[str], values: Sequence, labels: dict) -> tuple[Level, ...]:
    out = []
    for i, name in enumerate(comparisons):
        gamma, weight = values[2 * i], values[2 * i + 1]
        if gamma is None:
            continue
        out.append(Level(name, gamma, labels.get((name, gamma), ""), weight or 0.0))
    return tuple(out)


def _run_model(state: dict | None, models: Sequence[Path]) -> dict | None:
    """The Splink model the run scored with (the file whose m and u have the run's digest), fitted
    to the run's comparisons and prior; None when no file matches or nothing was recorded."""
    from orchestration.identity.incremental import model_digest
    from orchestration.identity.model import read_model

    if not state or state.get("prior") is None or not state.get("model_digest"):
        return None
    for path in models:
        saved = read_model(path)
        if saved is not None and model_digest(saved) == state["model_digest"]:
            compared = state["plan"].get("comparisons")
            return {
                **saved,
                "link_type": "dedupe_only",
                "probability_two_random_records_match": state["prior"],
                "comparisons": [
                    c for c in saved["comparisons"] if not compared or c["output_column_name"] in compared
                ],
                "blocking_rules_to_generate_predictions": [],
            }
    return None


def _level_labels(fitted: dict | None) -> dict[tuple[str, int], str]:
    if fitted is None:
        return {}
    from splink import SettingsCreator

    settings = SettingsCreator.from_path_or_dict(fitted).get_settings("duckdb")
    return {
        (c.output_column_name, level.comparison_vector_value): level.label_for_charts
        for c in settings.comparisons
        for level in c.comparison_levels
    }


def _rescore(con: duckdb.DuckDBPyConnection, a: str, b: str, fitted: dict, labels: dict) -> Score | None:
    """Score the pair now, as the run would have: the run's model and prior, term frequencies over
    the named records (those with blocking keys), Splink's own comparison SQL."""
    from splink import DuckDBAPI
    from splink.internals.realtime import compare_records

    plain = ", ".join(
        f"r.{c}" for c in COMPARED if c not in ("first_name", "last_name", "full_name", "birth_date")
    )
    parts = ", ".join(
        f"case when k.birth_date_compared is not null then r.{c} end as {c}"
        for c in ("birth_year", "birth_month", "birth_day")
    )
    con.execute(
        f"""
        create or replace temp table _named as
        select r.unique_id, r.first_name, r.last_name,
               {full_name_sql("r.")} as full_name,
               {plain},
               -- the birth date as Splink compared it: its parts as text, placeholders removed
               k.birth_date_compared as birth_date, {parts}
        from wh.identity.records r join wh.identity.blocking_keys k using (unique_id)
        """
    )
    frequencies = ", ".join(
        f"(select count(*) from _named x where x.{c} = n.{c})::double "
        f"/ nullif((select count({c}) from _named), 0) as tf_{c}"
        for c in TERM_FREQUENCY_COLUMNS
    )

    def record(unique_id: str):
        return con.sql(f"select n.*, {frequencies} from _named n where unique_id = {literal(unique_id)}")

    result = compare_records(record(a).to_arrow_table(), record(b).to_arrow_table(), fitted, DuckDBAPI(con))
    rows = result.as_record_list()
    if not rows:
        return None
    row = rows[0]
    comparisons = [c["output_column_name"] for c in fitted["comparisons"]]
    values = []
    for c in comparisons:
        values += [row.get(f"gamma_{c}"), (row.get(f"mw_{c}") or 0.0) + (row.get(f"mw_tf_adj_{c}") or 0.0)]
    return Score(
        row["match_probability"], row["match_weight"], "rescored", _levels(comparisons, values, labels)
    )


def _edges_among(con: duckdb.DuckDBPyConnection, ids: str) -> list[Link]:
    """Every edge both of whose records are in the relation ``ids(unique_id)``."""
    return [
        Link(*r)
        for r in _rows(
            con,
            f"""
            with ids as ({ids})
            select unique_id_l, unique_id_r, method, match_probability, guard from wh.identity.edges
            where unique_id_l in (select unique_id from ids) and unique_id_r in (select unique_id from ids)
            order by unique_id_l, unique_id_r, method
            """,
        )
    ]


def _customer_ids(customer_id: str | None, unique_id: str) -> str:
    if customer_id is None:
        return f"select {literal(unique_id)} as unique_id"
    return (
        "select unique_id from wh.identity.customer_source_records "
        f"where customer_id = {literal(customer_id)}"
    )


def _shortest_path(links: list[Link], a: str, b: str) -> tuple[Link, ...]:
    """A shortest path from ``a`` to ``b`` along links that were used (no guard)."""
    graph: dict[str, list[Link]] = {}
    for link in links:
        if link.guard is None:
            graph.setdefault(link.left, []).append(link)
            graph.setdefault(link.right, []).append(link)
    came: dict[str, Link | None] = {a: None}
    queue = deque([a])
    while queue and b not in came:
        node = queue.popleft()
        for link in graph.get(node, []):
            other = link.right if link.left == node else link.left
            if other not in came:
                came[other] = link
                queue.append(other)
    if b not in came:
        return ()
    path, node = [], b
    while came[node] is not None:
        link = came[node]
        path.append(link)
        node = link.left if link.right == node else link.right
    return tuple(reversed(path))


def _conflict_values(
    con: duckdb.DuckDBPyConnection, guards: set[str], left: Record, right: Record
) -> dict[str, tuple[list[str], list[str]]]:
    """For each 'conflicting …' guard, the values of its attribute held by each customer."""
    out = {}
    for guard in sorted(guards):
        attribute = guard.removeprefix("conflicting ")
        column = "first_name" if attribute.startswith("first name") else attribute
        if column not in left.attributes:
            continue
        sides = []
        for record in (left, right):
            sides.append(
                [
                    str(v)
                    for (v,) in _rows(
                        con,
                        f"select distinct r.{column} from wh.identity.records r "
                        f"where r.unique_id in ({_customer_ids(record.customer_id, record.unique_id)}) "
                        f"and r.{column} is not null order by 1",
                    )
                ]
            )
        out[attribute] = (sides[0], sides[1])
    return out


def explain_pair(
    warehouse: Path,
    a: str,
    b: str,
    identity: IdentitySettings | None = None,
    models: Sequence[Path] = (),
) -> Explanation:
    """Why records ``a`` and ``b`` (``source_system:source_record_id``) are one customer or two.

    ``identity``: the settings in force (default: ``load_identity_settings()``); ``models``: Splink
    model files, one of which the run may have scored with (a pair compared but not kept is scored
    again with it). Raises ``NotResolved`` when the warehouse holds no resolution, ``UnknownRecord``
    when it does not know a record.
    """
    identity = identity or load_identity_settings()
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach {literal(str(warehouse))} as wh (read_only)")
        tables = _identity_tables(con)
        needed = {"records", "customer_source_records", "edges", "blocking_keys", "scored_edges"}
        if needed - tables:
            missing = ", ".join(f"identity.{t}" for t in sorted(needed - tables))
            raise NotResolved(f"{warehouse} holds no identity resolution (no {missing}): run `cdp run` first")
        return _explain(con, tables, a, b, identity, models)
    finally:
        con.close()


def _explain(
    con: duckdb.DuckDBPyConnection,
    tables: set[str],
    a: str,
    b: str,
    identity: IdentitySettings,
    models: Sequence[Path],
) -> Explanation:
    present = set(_columns(con, "records"))
    attributes = [c for c in ATTRIBUTES if c in present]
    left, right = _record(con, a, attributes), _record(con, b, attributes)
    state = _state(con, tables)
    run_threshold = (state or {}).get("settings", {}).get("matching.match_probability")
    run_threshold = float(run_threshold) if run_threshold is not None else None
    named, keys = _blocking(con, a, b, state)
    shared = tuple(rule for rule, (x, y) in keys.items() if x is not None and x == y)
    fitted = _run_model(state, models) if named else None
    labels = _level_labels(fitted)
    score = _kept_score(con, a, b, labels)
    if score is not None and not score.levels and named and fitted is not None:
        again = _rescore(con, a, b, fitted, labels)
        if again is not None:
            score = _kept_score(con, a, b, labels, {x.comparison: x.level for x in again.levels})
    notes = []
    if score is None and named and fitted is not None:
        score = _rescore(con, a, b, fitted, labels)
    elif score is None and named:
        notes.append("the model the run scored with was not found: the pair cannot be scored again here")
    if run_threshold is not None and run_threshold != identity.match_probability:
        notes.append(
            f"the last resolution linked at {run_threshold:g}, the settings in force say "
            f"{identity.match_probability:g}: the next run decides with the latter"
        )
    same = left.customer_id is not None and left.customer_id == right.customer_id
    direct = tuple(_edges_among(con, f"select {literal(a)} as unique_id union all select {literal(b)}"))
    between: tuple[Link, ...] = ()
    path: tuple[Link, ...] = ()
    size = 0
    if same:
        size = _rows(
            con,
            "select count(*) from wh.identity.customer_source_records where customer_id = ?",
            [left.customer_id],
        )[0][0]
        if size <= MAX_PATH_RECORDS:
            path = _shortest_path(_edges_among(con, _customer_ids(left.customer_id, a)), a, b)
    else:
        ids = f"{_customer_ids(left.customer_id, a)} union all {_customer_ids(right.customer_id, b)}"
        mine = {r[0] for r in _rows(con, _customer_ids(left.customer_id, a))}
        between = tuple(
            link
            for link in _edges_among(con, ids)
            if (link.left in mine) != (link.right in mine) and {link.left, link.right} != {a, b}
        )
    guards = {x.guard for x in (*direct, *between) if x.guard and x.guard.startswith("conflicting ")}
    conflicts = _conflict_values(con, guards, left, right) if not same else {}
    explanation = Explanation(
        verdict="",
        left=left,
        right=right,
        same_customer=same,
        named=named,
        blocking_keys=keys,
        shared_rules=shared,
        score=score,
        threshold=identity.match_probability,
        run_threshold=run_threshold,
        floor=identity.scored_floor,
        direct=direct,
        between=between,
        conflicts=conflicts,
        path=path,
        customer_records=size,
        notes=tuple(notes),
        policies=dict(identity.conflicts),
    )
    return _with_verdict(explanation, identity)


def _with_verdict(e: Explanation, identity: IdentitySettings) -> Explanation:
    return replace(e, verdict=verdict(e, identity))


def _refusal(guard: str, identity: IdentitySettings) -> str:
    if guard == FIRST_NAME_GUARD:
        return f"link refused by the first-name guard ({guard})"
    attribute = guard.removeprefix("conflicting ")
    if attribute.startswith("steward cannot-link "):
        decision = attribute.removeprefix("steward cannot-link ")
        return f"link refused: a steward's decision keeps them apart ({decision}, cdp identity decisions)"
    policy = identity.conflicts.get(attribute)
    return f"link refused: their clusters hold different {attribute}" + (
        f" (conflicts.{attribute}: {policy})" if policy else ""
    )


def verdict(e: Explanation, identity: IdentitySettings) -> str:
    """The one-line answer: together and how, or apart and which rule kept them apart."""
    used = [x for x in e.direct if x.guard is None]
    refused = [x for x in e.direct if x.guard is not None]
    if e.same_customer:
        head = f"Same customer {e.left.customer_id}: "
        if used:
            return head + f"linked directly ({'; '.join(x.kind for x in used)})"
        via = (
            f"linked through {len(e.path) - 1} other record{'s' if len(e.path) != 2 else ''}"
            if e.path
            else f"one of {e.customer_records:,} records"
        )
        return head + via + (f" (their own link was refused: {refused[0].guard})" if refused else "")
    if refused:
        return "Kept apart: " + _refusal(refused[0].guard, identity) + _between(e)
    if used:
        flagged = [r.unique_id for r in (e.left, e.right) if r.in_flagged_cluster]
        if flagged:
            return (
                f"Kept apart: linked ({used[0].kind}), but the customer grew beyond "
                f"{identity.max_cluster_size} records (matching.max_cluster_size) and was kept to its "
                "deterministic links"
            )
        return f"Kept apart: linked ({used[0].kind}), yet in two customers: the link was not walked"
    if not e.named:
        nameless = [r.unique_id for r in (e.left, e.right) if not _has_name(r)]
        who = " and ".join(nameless) or "a record"
        return (
            f"Kept apart: {who} {'has' if len(nameless) < 2 else 'have'} no name, and Splink compares "
            "named records only (exact links and attachments by a unique e-mail or phone place the "
            "others)" + _between(e)
        )
    threshold = f"{e.threshold:g} (match threshold)"
    if not e.shared_rules and (e.score is None or e.score.source == "rescored"):
        if e.score is not None and e.score.probability >= e.threshold:
            return (
                f"Kept apart: never compared by a blocking rule, though it would score "
                f"{e.score.probability:.2f} ≥ {threshold}: a match the blocking misses" + _between(e)
            )
        would = f" (would score {e.score.probability:.2f})" if e.score is not None else ""
        return "Kept apart: never compared by a blocking rule" + would + _between(e)
    if e.score is not None and e.score.probability >= e.threshold:
        return (
            f"Kept apart: compared, scored {e.score.probability:.2f} ≥ {threshold}, yet no link: "
            "the last resolution ran with other settings" + _between(e)
        )
    if e.score is not None:
        return f"Kept apart: scored {e.score.probability:.2f} < {threshold}" + _between(e)
    return f"Kept apart: scored below {e.floor:g} (pairs under it are not kept)" + _between(e)


def _has_name(record: Record) -> bool:
    return bool(record.attributes.get("first_name") or record.attributes.get("last_name"))


def _between(e: Explanation) -> str:
    """What the other links between the two customers say, as a tail of the verdict."""
    if not e.between:
        return ""
    refused = Counter(x.guard for x in e.between if x.guard)
    if sum(refused.values()) == len(e.between):
        reasons = ", ".join(f"{g} ({n})" for g, n in refused.most_common())
        return f"; {len(e.between)} other link(s) between their customers, all refused: {reasons}"
    return f"; {len(e.between)} other link(s) between their customers"


def report_lines(e: Explanation) -> list[str]:
    """The explanation as a readable report: the verdict, then the evidence behind it."""
    lines = [e.verdict, ""]
    width = max(len(e.left.unique_id), len(e.right.unique_id), 24) + 2
    lines.append(f"{'':16}{e.left.unique_id:<{width}}{e.right.unique_id}   (= equal)")
    rows = [("customer_id", e.left.customer_id, e.right.customer_id)]
    rows += [(a, e.left.attributes.get(a), e.right.attributes.get(a)) for a in e.left.attributes]
    for name, x, y in rows:
        mark = "=" if x is not None and x == y else " "
        lines.append(f"{name:<14}{mark} {_show(x):<{width}}{_show(y)}")
    flagged = [r.unique_id for r in (e.left, e.right) if r.in_flagged_cluster]
    if flagged:
        lines.append(f"in a flagged cluster (deterministic links only): {', '.join(flagged)}")
    lines.append("")
    if not e.named:
        lines.append("Blocking: not compared (a record without a name never reaches Splink)")
    elif e.shared_rules:
        lines.append(f"Blocking: compared, by rule(s) {', '.join(e.shared_rules)}")
    else:
        lines.append("Blocking: never compared: no blocking rule puts them in one block")
        for rule, (x, y) in e.blocking_keys.items():
            lines.append(f"  {rule:<22}{_show(x):<{width + 10}}{_show(y)}")
        lines.append(
            "  (a key is empty when its fields are missing, or when more records than its block cap "
            "(set from matching.pairs_per_record) share even its most refined form)"
        )
    if e.score is not None:
        where = (
            "kept in identity.scored_edges"
            if e.score.source == "kept"
            else "scored again now with the run's model and prior: the run did not keep it"
        )
        side = "≥" if e.score.probability >= e.threshold else "<"
        lines.append(
            f"Score: {e.score.probability:.4f} (match weight {e.score.weight:+.2f}) {side} "
            f"{e.threshold:g} (matching.match_probability); {where}"
        )
        compared = [x for x in e.score.levels if x.level >= 0]
        prior = e.score.weight - sum(x.weight for x in compared)
        lines.append(f"  {'prior':<30}{prior:+7.2f}  two records taken at random are one person")
        for x in compared:
            lines.append(f"  {x.comparison:<22}level {x.level:>2}{x.weight:+7.2f}  {x.label}")
        missing = [x.comparison for x in e.score.levels if x.level < 0]
        if missing:
            lines.append(f"  not compared (missing on one side or both): {', '.join(missing)}")
    elif e.named:
        lines.append(f"Score: none kept (pairs under {e.floor:g} are not kept)")
    if e.direct:
        lines.append("Links between them:")
        lines += [f"  {x.describe()}" for x in e.direct]
    else:
        lines.append("Links between them: none")
    if e.between:
        lines.append(f"Other links between their customers ({len(e.between)}):")
        lines += [f"  {x.describe()}" for x in e.between[:20]]
        if len(e.between) > 20:
            lines.append(f"  … and {len(e.between) - 20} more")
    for attribute, (x, y) in e.conflicts.items():
        lines.append(
            f"Conflict on {attribute}: {e.left.customer_id} holds {x}, {e.right.customer_id} holds {y}"
        )
        if e.policies.get(attribute) == "weighed":
            lines.append(
                f"  (conflicts.{attribute}: weighed: refused because the link's own two records do not "
                f"both carry {attribute}: Splink never weighed the difference)"
            )
    if e.same_customer:
        if e.path:
            lines.append(f"Path ({len(e.path)} link(s), customer of {e.customer_records:,} records):")
            lines += [f"  {x.describe()}" for x in e.path]
        else:
            lines.append(f"Customer of {e.customer_records:,} records")
    lines += [f"Note: {n}" for n in e.notes]
    return lines


def _show(value: object) -> str:
    return "—" if value is None else str(value)
