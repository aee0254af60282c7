"""The review queue: the pairs a data steward should look at first, and their answers as decisions.

Every pair Splink scored above the match threshold is a candidate when the clustering or a guard
could be wrong about it. They come in three tiers, the model's doubt first:

1. **contradictions**: two records in one customer although a guard refused their own link (a
   conflicting value, or different first names on a pair Splink was not sure of either), or two
   customers although their link was used (the customer grew beyond the cluster cap and was kept to
   its exact links);
2. **near the threshold, or a large join**: two records in one customer through a link scored below
   ``near`` (0.8), or through a link that joined two large parts: replayed in the run's merge
   order (``estimate.replay_links``), its join made ``a * b`` pairs of records, of which Splink's
   probability leaves at least one expected wrong;
3. **a guard's call**: two customers because a guard refused the link Splink scored.

Each candidate is one pair of records (the most doubtful between two customers, or within one).
Within a tier the queue ranks them by what an answer moves: the **records** (for two customers,
the smaller one's, which an accept would move; for one customer, its records, which a reject may
split), then the **revenue** of those customers (``marts.dim_customers.lifetime_revenue``, when the
marts are built), then closeness to the threshold.

``write_review`` makes a self-contained HTML page (records side by side with their sources, each
comparison's match weight and a waterfall from the prior to the pair's weight; no script, nothing
fetched) and a CSV whose ``answer`` column the steward fills with ``accept`` (one person: a
must-link), ``reject`` (two people: a cannot-link) or ``skip``. ``apply_answers`` turns the answers
into steward decisions (``decisions``), which the next run applies.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.identity import model
from orchestration.identity.decisions import CANNOT_LINK, MUST_LINK, DecisionError, decide, read_decisions
from orchestration.identity.estimate import replay_links
from orchestration.identity.incremental import model_digest
from orchestration.warehouse import table_exists

ANSWERS = ("accept", "reject", "skip")
CSV_FIELDS = (
    "pair", "record_a", "record_b", "customer_a", "customer_b", "now", "probability", "tier", "reason",
    "records_at_stake", "revenue_at_stake", "answer", "why",
)  # fmt: skip
# The attributes shown side by side (identity.records).
SHOWN = (
    "source_system", "first_name", "last_name", "email", "phone", "birth_date", "street", "house_number",
    "postcode", "city", "loyalty_card", "account_id", "store_code",
)  # fmt: skip


@dataclass(frozen=True)
class ReviewPair:
    """One pair of the queue, with what the page shows of it."""

    pair: int
    record_a: str
    record_b: str
    customer_a: str
    customer_b: str
    probability: float
    match_weight: float
    # 1 contradictions, 2 near the threshold, 3 a guard's call (the module's docstring).
    tier: int
    reason: str
    records_at_stake: int
    revenue_at_stake: float
    attributes: tuple[dict, dict] = ({}, {})
    # (comparison, match weight), the prior first: the waterfall.
    weights: list[tuple[str, float]] = field(default_factory=list)
    # (comparison, the level it reached, its match weight): the comparison levels of the pair.
    levels: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def together(self) -> bool:
        return self.customer_a == self.customer_b


def review_queue(
    con: duckdb.DuckDBPyConnection,
    threshold: float,
    limit: int = 100,
    near: float = 0.8,
    models: Sequence[Path] = (),
) -> list[ReviewPair]:
    """The ``limit`` pairs to review first (see the module's docstring), from the last resolution.
    Pairs a decision in force already covers are left out. ``models``: the model files the run may
    have scored with; the one it did names each comparison's level (``run_levels``)."""
    if not table_exists(con, "identity", "customer_source_records"):
        raise DecisionError("no identity resolution in the warehouse yet: run `cdp run` first")
    revenue = (
        "select customer_id, coalesce(lifetime_revenue, 0) as revenue from marts.dim_customers"
        if table_exists(con, "marts", "dim_customers")
        else "select null::varchar as customer_id, 0.0 as revenue where false"
    )
    decided = (
        """select unnest(side_a) as a, unnest(side_b) as b from identity.steward_decisions
           where revoked_at is null and kind = 'must_link'
           union all
           select a, b from (select unnest(side_a) as a, side_b from identity.steward_decisions
                             where revoked_at is null and kind = 'cannot_link'), unnest(side_b) as t(b)"""
        if table_exists(con, "identity", "steward_decisions")
        else "select null::varchar as a, null::varchar as b where false"
    )
    joins: dict[tuple[str, str], int] = {}
    replay_links(con, joins)
    con.register(
        "_joins",
        pa.table({"unique_id_l": [k[0] for k in joins], "unique_id_r": [k[1] for k in joins],
                  "joined_pairs": list(joins.values())}),
    )  # fmt: skip
    rows = con.execute(
        f"""
        with links as (
            select unique_id_l, unique_id_r, any_value(guard) filter (where guard is not null) as guard,
                   bool_or(guard is null) as used
            from identity.edges where method = 'probabilistic' group by all
        ),
        customers as (select unique_id, customer_id from identity.customer_source_records),
        sizes as (select customer_id, count(*) as records from customers group by all),
        revenue as ({revenue}),
        decided as ({decided}),
        placed as (
            select s.unique_id_l, s.unique_id_r, s.match_probability, s.match_weight, k.guard,
                   coalesce(k.used, false) as used, coalesce(j.joined_pairs, 0) as joined_pairs,
                   l.customer_id as customer_a, r.customer_id as customer_b,
                   l.customer_id = r.customer_id as together,
                   case when l.customer_id = r.customer_id then sl.records
                        else least(sl.records, sr.records) end as records_at_stake,
                   case when l.customer_id = r.customer_id then coalesce(vl.revenue, 0)
                        else coalesce(vl.revenue, 0) + coalesce(vr.revenue, 0) end as revenue_at_stake
            from identity.scored_edges s
            left join links k using (unique_id_l, unique_id_r)
            left join _joins j using (unique_id_l, unique_id_r)
            join customers l on l.unique_id = s.unique_id_l
            join customers r on r.unique_id = s.unique_id_r
            join sizes sl on sl.customer_id = l.customer_id
            join sizes sr on sr.customer_id = r.customer_id
            left join revenue vl on vl.customer_id = l.customer_id
            left join revenue vr on vr.customer_id = r.customer_id
            where s.match_probability >= {threshold}
              and not exists (
                select 1 from decided d
                where (d.a = s.unique_id_l and d.b = s.unique_id_r)
                   or (d.a = s.unique_id_r and d.b = s.unique_id_l))
        ),
        tiered as (
            select *,
                case when together and guard is not null
                          and (match_probability < {near} or guard like 'conflicting%') then 1
                     when not together and used then 1
                     when together and used
                          and (match_probability < {near} or joined_pairs * (1 - match_probability) >= 1)
                          then 2
                     when not together and guard is not null then 3 end as tier,
                case when together and guard is not null
                         then 'one customer, though a guard refused their own link (' || guard || ')'
                     when not together and used
                         then 'two customers, though their link was used (kept apart by the cluster cap)'
                     when together and match_probability < {near}
                         then 'one customer through a link scored near the threshold'
                     when together then 'one customer through a link that joined ' || joined_pairs
                         || ' pairs of records at once'
                     else 'two customers: a guard refused the link (' || guard || ')' end as reason
            from placed
        ),
        one_per_customer_pair as (
            select * from tiered where tier is not null
            qualify row_number() over (
                partition by least(customer_a, customer_b), greatest(customer_a, customer_b)
                order by tier, abs(match_probability - {threshold}), unique_id_l, unique_id_r
            ) = 1
        )
        select unique_id_l, unique_id_r, customer_a, customer_b, match_probability, match_weight, tier,
               reason, records_at_stake, revenue_at_stake
        from one_per_customer_pair
        order by tier, records_at_stake desc, revenue_at_stake desc, abs(match_probability - {threshold}),
                 unique_id_l, unique_id_r
        limit {int(limit)}
        """
    ).fetchall()
    con.unregister("_joins")
    pairs = [
        ReviewPair(i, a, b, ca, cb, p, w, tier, reason, n, float(v))
        for i, (a, b, ca, cb, p, w, tier, reason, n, v) in enumerate(rows, start=1)
    ]
    records = _columns(con, "records")
    shown = [c for c in SHOWN if c in records]
    weights = [c for c in _columns(con, "scored_edges") if c.startswith("mw_")]
    levels = run_levels(con, models)
    return [_with_details(con, pair, shown, weights, levels) for pair in pairs]


def run_levels(con: duckdb.DuckDBPyConnection, models: Sequence[Path]) -> dict[str, list[tuple[float, str]]]:
    """The level weights and labels of the model the last resolution scored with: the first of
    ``models`` whose comparisons have the digest it recorded (none when no file matches)."""
    if not table_exists(con, "identity", "resolution_state"):
        return {}
    rows = con.execute(
        "select model_digest from identity.resolution_state order by resolved_at desc limit 1"
    ).fetchall()
    for path in models:
        saved = model.read_model(path)
        if rows and saved is not None and model_digest(saved) == rows[0][0]:
            return model.level_weights(saved)
    return {}


def _level(levels: list[tuple[float, str]], weight: float) -> str:
    """The label of the level whose weight a pair's comparison carries ("" when none has it)."""
    label = next((label for w, label in levels if abs(w - weight) < 1e-6), "")
    # Splink's null level weighs nothing: the value is missing on one side or both.
    return label or ("missing on one side or both" if levels and weight == 0 else "")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of ``identity.<table>``, in order."""
    sql = (
        "select column_name from information_schema.columns where table_schema = 'identity' "
        "and table_name = ? order by ordinal_position"
    )
    return [c for (c,) in con.execute(sql, [table]).fetchall()]


def _with_details(
    con: duckdb.DuckDBPyConnection,
    pair: ReviewPair,
    shown: list[str],
    weight_columns: list[str],
    levels: dict[str, list[tuple[float, str]]],
) -> ReviewPair:
    """The pair with both records' attributes (``shown``), its waterfall of match weights
    (``weight_columns`` of ``identity.scored_edges``) and the level each comparison reached
    (``levels``: ``run_levels``)."""
    attributes = []
    for record in (pair.record_a, pair.record_b):
        values = con.execute(
            f"select {', '.join(shown)} from identity.records where unique_id = ?", [record]
        ).fetchall()[0]
        attributes.append({c: v for c, v in zip(shown, values, strict=True)})
    values = con.execute(
        f"select {', '.join(weight_columns) or 'null'} from identity.scored_edges "
        "where unique_id_l = ? and unique_id_r = ?",
        [pair.record_a, pair.record_b],
    ).fetchall()[0]
    comparisons = [
        (c.removeprefix("mw_").replace("tf_adj_", "term frequency: "), float(v or 0.0))
        for c, v in zip(weight_columns, values, strict=True)
        if v
    ]
    prior = pair.match_weight - sum(w for _, w in comparisons)
    reached = [
        (
            c.removeprefix("mw_"),
            _level(levels.get(c.removeprefix("mw_"), []), float(v or 0.0)),
            float(v or 0.0),
        )
        for c, v in zip(weight_columns, values, strict=True)
        if not c.startswith("mw_tf_adj_") and v is not None
    ]
    return ReviewPair(
        **{
            **pair.__dict__,
            "attributes": tuple(attributes),
            "weights": [("prior", prior), *comparisons],
            "levels": reached,
        }
    )


def write_review(pairs: list[ReviewPair], out_dir: Path, threshold: float) -> tuple[Path, Path]:
    """``review.html`` and ``review.csv`` in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "review.csv"
    with table.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for p in pairs:
            writer.writerow(
                [p.pair, p.record_a, p.record_b, p.customer_a, p.customer_b,
                 "one customer" if p.together else "two customers", f"{p.probability:.3f}", p.tier, p.reason,
                 p.records_at_stake, f"{p.revenue_at_stake:.2f}", "", ""]
            )  # fmt: skip
    page = out_dir / "review.html"
    page.write_text(_page(pairs, threshold), encoding="utf-8")
    return page, table


def _page(pairs: list[ReviewPair], threshold: float) -> str:
    cards = "\n".join(_card(p, threshold) for p in pairs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Identity review queue</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }}
section.pair {{ border: 1px solid #ccc; border-radius: 6px; padding: 1rem; margin: 1rem 0; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 8px; text-align: left; }}
tr.same td {{ background: #e8f5e9; }} tr.differ td {{ background: #fdecea; }}
.meta {{ color: #555; }} svg {{ display: block; margin-top: .5rem; }}
table.levels {{ margin-top: .5rem; font-size: .9rem; }}
</style></head><body>
<h1>Identity review queue</h1>
<p>{len(pairs)} pair(s) the model is least sure of: contradictions first, then links near the
threshold, then a guard's calls; within each, the costliest first (records and revenue an answer
would move). Answer in <code>review.csv</code>, column <code>answer</code>: <code>accept</code> (one
person), <code>reject</code> (two people) or <code>skip</code>; then
<code>cdp identity review --apply review.csv</code>. Match threshold: {threshold}.</p>
{cards}
</body></html>
"""


def _card(p: ReviewPair, threshold: float) -> str:
    left, right = p.attributes
    rows = []
    for name in left:
        a, b = left.get(name), right.get(name)
        kind = "" if a is None or b is None else (' class="same"' if a == b else ' class="differ"')
        rows.append(f"<tr{kind}><th>{html.escape(name)}</th><td>{_text(a)}</td><td>{_text(b)}</td></tr>")
    now = (
        f"one customer ({p.customer_a})" if p.together else f"two customers ({p.customer_a}, {p.customer_b})"
    )
    return f"""<section class="pair" id="pair-{p.pair}">
<h2>Pair {p.pair}: {html.escape(p.record_a)} and {html.escape(p.record_b)}</h2>
<p class="meta">Now {html.escape(now)}. Splink: probability {p.probability:.3f}, match weight
{p.match_weight:.2f} (threshold {threshold}); {html.escape(p.reason)}. At stake: {p.records_at_stake}
records, revenue {p.revenue_at_stake:,.2f}.</p>
<table><tr><th></th><th>{html.escape(p.record_a)}</th><th>{html.escape(p.record_b)}</th></tr>
{"".join(rows)}</table>
{_levels_table(p.levels)}
{_waterfall(p.weights, p.match_weight)}
</section>"""


def _levels_table(levels: list[tuple[str, str, float]]) -> str:
    """The comparison levels the pair reached, with their match weights (term frequency apart)."""
    if not levels:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(c)}</td><td>{html.escape(label)}</td><td>{w:+.2f}</td></tr>"
        for c, label, w in levels
    )
    return (
        '<table class="levels"><tr><th>comparison</th><th>level reached</th><th>match weight</th></tr>'
        f"{rows}</table>"
    )


def _text(value: object) -> str:
    return "" if value is None else html.escape(str(value))


def _waterfall(weights: list[tuple[str, float]], total: float) -> str:
    """An inline SVG waterfall: each comparison's match weight added to the prior's, up to the pair's
    weight (what Splink's waterfall chart shows, drawn here so the page needs no script)."""
    bar, label_width, width = 22, 260, 700
    running = [0.0]
    for _, w in weights:
        running.append(running[-1] + w)
    low, high = min(*running, total, 0.0), max(*running, total, 0.0)
    scale = (width - label_width - 60) / ((high - low) or 1.0)

    def x(v: float) -> float:
        return label_width + (v - low) * scale

    items = []
    for i, (name, w) in enumerate([*weights, ("match weight", None)]):
        y = 6 + i * bar
        if w is None:
            start, end, colour = 0.0, total, "#455a64"
        else:
            start, end = running[i], running[i + 1]
            colour = "#2e7d32" if w >= 0 else "#c62828"
        left, right = sorted((x(start), x(end)))
        value = total if w is None else w
        name_at = f'x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="12"'
        box = f'x="{left:.1f}" y="{y + 3}" width="{max(right - left, 1):.1f}" height="{bar - 6}"'
        items.append(
            f"<text {name_at}>{html.escape(name)}</text>"
            f'<rect class="mark" {box} fill="{colour}"/>'
            f'<text x="{right + 4:.1f}" y="{y + 15}" font-size="11">{value:+.2f}</text>'
        )
    height = 12 + (len(weights) + 1) * bar
    zero = x(0.0)
    label = f"waterfall of match weights, total {total:+.2f}"
    if not math.isfinite(total):
        label = "waterfall of match weights"
    return (
        f'<svg role="img" aria-label="{label}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" '
        f'stroke="#999"/>{"".join(items)}</svg>'
    )


@dataclass
class Applied:
    """What the answers of a review file became."""

    decisions: list[str] = field(default_factory=list)
    skipped: int = 0
    refused: list[str] = field(default_factory=list)


def apply_answers(
    con: duckdb.DuckDBPyConnection, decisions_path: Path, answers: Path, by: str | None = None
) -> Applied:
    """Turn the answers of a filled ``review.csv`` into decisions: ``accept`` a must-link between
    the pair's two records, ``reject`` a cannot-link, ``skip`` (or empty) nothing. A bad answer
    stops before anything is recorded, naming the file and line; an answer that contradicts a
    decision in force is reported and not recorded."""
    rows = []
    with answers.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"record_a", "record_b", "answer"} - set(reader.fieldnames or ())
        if missing:
            raise DecisionError(
                f"{answers}: no column {', '.join(sorted(missing))} (a review.csv is expected)"
            )
        for line, row in enumerate(reader, start=2):
            answer = (row["answer"] or "skip").strip().lower()
            if answer not in ANSWERS:
                raise DecisionError(
                    f"{answers}, line {line}: answer {row['answer']!r} is not one of {', '.join(ANSWERS)}"
                )
            rows.append((line, row, answer))
    applied = Applied()
    read_decisions(decisions_path)  # a bad decisions file stops before anything is added to it
    for line, row, answer in rows:
        if answer == "skip":
            applied.skipped += 1
            continue
        kind = MUST_LINK if answer == "accept" else CANNOT_LINK
        why = (
            row.get("why") or ""
        ).strip() or f"review of pair {row.get('pair', '?')} ({answers.name}, line {line})"
        try:
            decision = decide(con, decisions_path, kind, [row["record_a"]], row["record_b"], why, by)
        except DecisionError as error:
            applied.refused.append(f"line {line}: {error}")
            continue
        applied.decisions.append(decision.decision_id)
    return applied
