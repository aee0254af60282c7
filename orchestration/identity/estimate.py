"""Accuracy without a truth file: pairwise recall from hidden keys, and the expected precision.

A retailer has no truth file, yet its data knows some matches for sure (records sharing a loyalty
card) and the model says how sure it is of the others. Both estimates read only what a run leaves
in the warehouse (``identity.records``, ``identity.edges``, ``identity.clusters``): nothing is
scored or clustered again, and both estimate ``evaluate.score``'s *pairwise* figures (pairs of
records within a customer). docs/identity.md, "Accuracy without a truth file", gives the figures
measured against a truth file.

**Expected precision** (``replay_links``). Splink's match probability of an accepted pair is its
chance of being a true match. A link joining a part of ``a`` records to a part of ``b`` records
makes ``a * b`` pairs, all right if the link is. So the used links are replayed in the order the
run merged along them (exact links, probabilistic ones by weight, attachments) over a union-find,
each join counting its ``a * b`` pairs as right with the probability of the link that made it
(exact links and attachments: 1). Expected precision = expected true pairs / pairs. It assumes the
probabilities are calibrated, takes attachments as exact (they are not quite: it leans high), and
ignores the other links between two parts, which only add evidence (it leans low).

**Recall** (``hidden_key_recall``, ``AccuracyEstimate``). Records sharing a hard key (``HARD_KEYS``:
a loyalty card, a web account id, a CRM contact id) are known matches. For each key, its exact
links are hidden, and the records are grouped by what the run's other used links (other rules,
probabilistic links, attachments) still join within the final clusters: the share of the key's
known pairs still in one group, ``r``, is the recall of everything but exact links. Only records
giving a name, an e-mail or a phone count (``EVIDENCE``): a till ticket with nothing but a card
can only ever be joined by its card, and would only say so. No key is a Splink comparison
(``model``), so no weight needs taking out of a pair's match weight.

Pairs joined by exact links are right and found. The other true pairs are found at rate ``r``:
the run found ``N`` of them (expected true pairs of the non-exact joins), so there are about
``N / r``, and recall ≈ ``(D + N) / (D + N / r)`` with ``D`` the pairs of exact links.

**The steward's answers** (``steward_agreement``) are labels too: a must-link says two records are
one person, a cannot-link that they are not. Before the decision overrode it, the model said match
when a pair across the two sides scored at or above the threshold. The agreement is the share of
the decisions in force where the model said what the steward said. It is measured on the pairs a
steward chose to look at (the review queue puts the model's least sure first): a rate on hard
cases, not on the data, and a small sample; it is reported beside the estimates, never mixed in.

What the hidden-key and replay estimates assume, and where they are biased:

- the known pairs are as hard as the other true pairs. The orders of one web account share its
  e-mail and name, easier than average: the estimate leans high;
- the links left are those the run used *with* the key: without it, the constrained merge might
  have refused some, and an attachment might have found its value ambiguous: it leans high;
- two parts of a person with no evidence at all (a card no CRM contact holds, and the person's web
  orders) are out of the sample: their missed pairs are not seen (it leans high).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import duckdb

from orchestration.identity.decisions import MUST_LINK
from orchestration.identity.graph import connected_components
from orchestration.identity.history import ESTIMATES_DDL
from orchestration.warehouse import table_exists

# A record the links other than exact ones could place: it gives a name, an e-mail or a phone.
EVIDENCE = "coalesce(r.first_name, r.last_name, r.email, r.phone) is not null"
# The keyed deterministic rules (``links``) and the ``identity.records`` column each joins on.
HARD_KEYS = {"loyalty_card": "loyalty_card", "web_account": "account_id", "crm_contact": "contact_id"}


@dataclass(frozen=True)
class Replay:
    """The used links replayed in merge order (``replay_links``)."""

    links: int  # joins of two parts
    pairs: int  # pairs of records within a cluster they make
    exact_pairs: int  # of which made by exact (deterministic) links
    expected_true: float  # expected true pairs, exact ones included


@dataclass(frozen=True)
class AccuracyEstimate:
    """Pairwise recall and precision estimated without a truth file, and what they rest on."""

    recall: float | None  # None: no known pair, or none joined without its key
    known_pairs: int  # pairs of records sharing a hard key: the recall's sample
    hidden_key_recall: float | None  # share of the known pairs joined without their key (``r``)
    hidden_key_recall_by_key: dict[str, float | None]
    precision: float | None  # None: no two records in one customer
    links: int  # joins of two parts the precision is made of
    pairs: int  # pairs of records within a customer
    # The decisions in force the model's own verdict can be set against, and the share it agreed with
    # (``steward_agreement``); per kind: (decisions, those where the model said the same).
    steward_labels: int = 0
    steward_agreement: float | None = None
    steward_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        def rounded(value: object) -> object:
            if isinstance(value, dict):
                return {k: rounded(v) for k, v in value.items()}
            return round(value, 4) if isinstance(value, float) else value

        return {k: rounded(v) for k, v in asdict(self).items()}


def hidden_key_recall(con: duckdb.DuckDBPyConnection) -> tuple[float | None, int, dict[str, float | None]]:
    """The share of the pairs of records (with ``EVIDENCE``) sharing a hard key that the run's
    other links join. Returns the share pooled over the keys (weighted by pairs), the known pairs,
    and the share per key (``HARD_KEYS``; None: no pair)."""
    found_total = pairs_total = 0
    by_key: dict[str, float | None] = {}
    for rule, column in HARD_KEYS.items():
        found, pairs = key_pairs_recovered(con, rule, column)
        by_key[rule] = found / pairs if pairs else None
        found_total += found
        pairs_total += pairs
    return (found_total / pairs_total if pairs_total else None), pairs_total, by_key


def key_pairs_recovered(con: duckdb.DuckDBPyConnection, rule: str, column: str) -> tuple[int, int]:
    """Pairs of records with evidence sharing ``column``, and how many of them the used links
    other than the ``rule``'s exact ones join within one cluster."""
    con.execute(
        f"""
        create or replace temp table _hidden_links as
        select e.unique_id_l, e.unique_id_r
        from identity.edges e
        join identity.clusters l on l.unique_id = e.unique_id_l
        join identity.clusters r on r.unique_id = e.unique_id_r
        where e.guard is null and e.method <> 'deterministic:{rule}' and l.cluster_id = r.cluster_id
        """
    )
    groups = connected_components(con, "identity.clusters", "_hidden_links")
    found, pairs = con.execute(
        f"""
        with keyed as (
            select r.{column} as key, g.cluster_id as grp
            from identity.records r join {groups} g using (unique_id)
            where r.{column} is not null and {EVIDENCE}
        ),
        per_key as (select key, count(*)::hugeint as n from keyed group by key),
        per_group as (select key, grp, count(*)::hugeint as n from keyed group by key, grp)
        select (select coalesce(sum(n * (n - 1) / 2), 0) from per_group),
               (select coalesce(sum(n * (n - 1) / 2), 0) from per_key)
        """
    ).fetchall()[0]
    con.execute(f"drop table {groups}")
    con.execute("drop table _hidden_links")
    return int(found), int(pairs)


def replay_links(con: duckdb.DuckDBPyConnection, joins: dict[tuple[str, str], int] | None = None) -> Replay:
    """Replay the used links within the final clusters in merge order over a union-find; each join
    of parts of ``a`` and ``b`` records makes ``a * b`` pairs, right with the link's probability.
    ``joins``, when given, receives the pairs each joining link made, by its two records."""
    rows = con.execute(
        """
        select e.unique_id_l, e.unique_id_r, e.match_probability, e.method like 'deterministic:%'
        from identity.edges e
        join identity.clusters l on l.unique_id = e.unique_id_l
        join identity.clusters r on r.unique_id = e.unique_id_r
        where e.guard is null and l.cluster_id = r.cluster_id
        order by case when e.method like 'deterministic:%' then 0
                      when e.method = 'probabilistic' then 1 else 2 end,
                 e.match_weight desc nulls last, e.unique_id_l, e.unique_id_r
        """
    ).fetchall()
    parent: dict[str, str] = {}
    size: dict[str, int] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    links = pairs = exact = 0
    expected = 0.0
    for left, right, probability, is_exact in rows:
        a, b = find(left), find(right)
        if a == b:
            continue
        if size.get(a, 1) < size.get(b, 1):
            a, b = b, a
        joined = size.get(a, 1) * size.get(b, 1)
        links += 1
        pairs += joined
        exact += joined if is_exact else 0
        expected += joined * float(probability)
        if joins is not None:
            joins[(left, right)] = joined
        parent[b] = a
        size[a] = size.get(a, 1) + size.get(b, 1)
    return Replay(links, pairs, exact, expected)


def estimate_accuracy(con: duckdb.DuckDBPyConnection) -> AccuracyEstimate:
    """Both estimates for the warehouse's current resolution (module docstring)."""
    r, known, by_key = hidden_key_recall(con)
    replay = replay_links(con)
    found_other = replay.expected_true - replay.exact_pairs
    # r = 0: nothing but exact links joins a known pair, and the pairs they miss are beyond count.
    recall = (replay.exact_pairs + found_other) / (replay.exact_pairs + found_other / r) if r else None
    precision = replay.expected_true / replay.pairs if replay.pairs else None
    return AccuracyEstimate(recall, known, r, by_key, precision, replay.links, replay.pairs)


def describe(e: AccuracyEstimate) -> str:
    """The estimate as the KPI report and the run's log say it."""
    recall = "-" if e.recall is None else f"{e.recall:.4f}"
    precision = "-" if e.precision is None else f"{e.precision:.4f}"
    line = (
        f"pairwise recall about {recall} (from {e.known_pairs:,} pairs of records sharing a loyalty card, "
        f"web account or CRM contact), expected pairwise precision {precision} (from the match "
        f"probabilities of {e.links:,} joins)"
    )
    if e.steward_labels:
        line += (
            f"; the model agreed with {e.steward_agreement:.0%} of the {e.steward_labels} steward "
            "decisions in force (pairs a steward chose to look at: the hard cases)"
        )
    return line


def steward_agreement(
    con: duckdb.DuckDBPyConnection, threshold: float
) -> tuple[int, float | None, dict[str, tuple[int, int]]]:
    """The steward's decisions in force as labels of the model (module docstring): how many, the
    share where the model's verdict (a pair across the sides scored at or above ``threshold``) was
    the steward's, and per kind (decisions, agreeing)."""
    if not table_exists(con, "identity", "steward_decisions"):
        return 0, None, {}
    rows = con.execute(
        f"""
        with decided as (
            select decision_id, kind, side_a, side_b from identity.steward_decisions where revoked_at is null
        ),
        across as (
            select d.decision_id, d.kind, least(a.id, b.id) as l, greatest(a.id, b.id) as r
            from decided d, unnest(d.side_a) as a(id), unnest(d.side_b) as b(id)
        ),
        verdict as (
            select a.decision_id, any_value(a.kind) as kind,
                   coalesce(max(s.match_probability), 0) >= ? as model_match
            from across a
            left join identity.scored_edges s on s.unique_id_l = a.l and s.unique_id_r = a.r
            group by a.decision_id
        )
        select kind, count(*), count(*) filter (where model_match = (kind = '{MUST_LINK}'))
        from verdict group by kind order by kind
        """,
        [threshold],
    ).fetchall()
    by_kind = {kind: (int(n), int(agreed)) for kind, n, agreed in rows}
    labels = sum(n for n, _ in by_kind.values())
    agreed = sum(a for _, a in by_kind.values())
    return labels, (agreed / labels if labels else None), by_kind


def record_accuracy_estimate(
    con: duckdb.DuckDBPyConnection, run_id: str, recompute: bool = True, threshold: float = 0.5
) -> AccuracyEstimate:
    """Estimate this run's accuracy and append it to ``identity.accuracy_estimates`` (a time series
    the identity checks compare run to run).

    With ``recompute`` false (an incremental run) and an earlier estimate kept, the run reports
    that estimate again (its ``estimated_at`` says when it was made) instead of computing one: the
    estimate reads every record and link (10 s at 100k customers, about ten times that at 1M, most
    of a day's identity step), while a day moves a fraction of a percent of the records. A full
    resolution (a model, setting or code change, ``--full-identity``) estimates afresh. The
    steward's agreement (a few decisions: cheap) is measured on every run, at ``threshold``."""
    con.execute(ESTIMATES_DDL)
    labels, agreement, by_kind = steward_agreement(con, threshold)
    steward = {"steward_labels": labels, "steward_agreement": agreement, "steward_by_kind": by_kind}
    if not recompute:
        latest = con.execute(
            "select estimated_at, estimated_recall, known_pairs, hidden_key_recall, expected_precision, "
            "links, pairs from identity.accuracy_estimates order by estimated_at desc limit 1"
        ).fetchall()
        if latest:
            at, recall, known, hidden, precision, links, pairs = latest[0]
            kept = AccuracyEstimate(recall, known, hidden, {}, precision, links, pairs, **steward)
            _append(con, run_id, at, kept)
            return kept
    estimate = AccuracyEstimate(**{**estimate_accuracy(con).__dict__, **steward})
    _append(con, run_id, None, estimate)
    return estimate


def _append(con: duckdb.DuckDBPyConnection, run_id: str, at: object, e: AccuracyEstimate) -> None:
    """One row of ``identity.accuracy_estimates``; ``at`` None: estimated now."""
    con.execute(
        """
        insert into identity.accuracy_estimates (
            run_id, estimated_at, estimated_recall, known_pairs, hidden_key_recall, expected_precision,
            links, pairs, steward_labels, steward_agreement)
        values (?, coalesce(?, now()), ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [run_id, at, e.recall, e.known_pairs, e.hidden_key_recall, e.precision, e.links, e.pairs,
         e.steward_labels, e.steward_agreement],
    )  # fmt: skip
