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

What it assumes, and where it is biased:

- the known pairs are as hard as the other true pairs. The orders of one web account share its
  e-mail and name, easier than average: the estimate leans high;
- the links left are those the run used *with* the key: without it, the constrained merge might
  have refused some, and an attachment might have found its value ambiguous: it leans high;
- two parts of a person with no evidence at all (a card no CRM contact holds, and the person's web
  orders) are out of the sample: their missed pairs are not seen (it leans high).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb

from orchestration.identity.graph import connected_components
from orchestration.identity.history import ESTIMATES_DDL

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


def record_accuracy_estimate(
    con: duckdb.DuckDBPyConnection, run_id: str, recompute: bool = True
) -> AccuracyEstimate:
    """Estimate this run's accuracy and append it to ``identity.accuracy_estimates`` (a time series
    the identity checks compare run to run).

    With ``recompute`` false (an incremental run) and an earlier estimate kept, the run reports
    that estimate again (its ``estimated_at`` says when it was made) instead of computing one: the
    estimate reads every record and link (10 s at 100k customers, about ten times that at 1M, most
    of a day's identity step), while a day moves a fraction of a percent of the records. A full
    resolution (a model, setting or code change, ``--full-identity``) estimates afresh."""
    con.execute(ESTIMATES_DDL)
    if not recompute:
        latest = con.execute(
            "select estimated_at, estimated_recall, known_pairs, hidden_key_recall, expected_precision, "
            "links, pairs from identity.accuracy_estimates order by estimated_at desc limit 1"
        ).fetchall()
        if latest:
            at, recall, known, hidden, precision, links, pairs = latest[0]
            con.execute(
                "insert into identity.accuracy_estimates values (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, at, recall, known, hidden, precision, links, pairs],
            )
            return AccuracyEstimate(recall, known, hidden, {}, precision, links, pairs)
    estimate = estimate_accuracy(con)
    con.execute(
        "insert into identity.accuracy_estimates values (?, now(), ?, ?, ?, ?, ?, ?)",
        [
            run_id, estimate.recall, estimate.known_pairs, estimate.hidden_key_recall,
            estimate.precision, estimate.links, estimate.pairs,
        ],
    )  # fmt: skip
    return estimate
