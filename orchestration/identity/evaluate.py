"""Accuracy of a clustering against a truth file, and the deterministic baseline to beat.

Truth: any CSV with columns ``source_system, source_record_id, person_id`` (the generator's
``truth/identities.csv``, or a sample a person labelled by hand). Only records present in the truth
are scored; a truth record the clustering does not know counts as a singleton.

- pairwise precision / recall / F1: over all pairs of records put in the same cluster;
- B-cubed precision / recall / F1: per record, the share of its cluster that is truly its person
  (precision) and the share of its person found in its cluster (recall), averaged over records.

``missed_pairs`` says whether a miss is the matcher's or the data's: for each pair of records of one
person left in two customers, what the two parts have in common.

``customer_counts`` says whether the customer count can be trusted: customers against people, the
people split and the customer ids merging several people, and the evidence limit (how few customers
the records' shared identifiers could justify).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from orchestration.identity.graph import connected_components

# Columns of identity.blocking_keys that are not a blocking rule: the record, and the birth date as
# Splink compared it (kept for increments and explanations).
NOT_RULES = ("unique_id", "birth_date_compared")


@dataclass(frozen=True)
class Scores:
    records: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def load_truth(con: duckdb.DuckDBPyConnection, truth_file: Path) -> None:
    """Load a truth file into temp table ``_truth(unique_id, person_id)``."""
    columns = {
        r[0]
        for r in con.execute(
            "describe select * from read_csv(?, header = true)", [str(truth_file)]
        ).fetchall()
    }
    missing = {"source_system", "source_record_id", "person_id"} - columns
    if missing:
        raise ValueError(f"{truth_file}: truth file lacks column(s) {sorted(missing)}")
    con.execute(
        """
        create or replace temp table _truth as
        select source_system || ':' || source_record_id as unique_id, person_id
        from read_csv(?, header = true, all_varchar = true)
        """,
        [str(truth_file)],
    )


def score(con: duckdb.DuckDBPyConnection, clusters: str) -> Scores:
    """Score relation ``clusters(unique_id, cluster_id)`` against ``_truth``."""
    row = con.execute(
        f"""
        with j as (
            select t.unique_id, t.person_id, coalesce(c.cluster_id, 'singleton:' || t.unique_id) as cluster_id
            from _truth t left join {clusters} c using (unique_id)
        ),
        cells as (select cluster_id, person_id, count(*)::double as n from j group by all),
        csize as (select cluster_id, sum(n) as n from cells group by all),
        tsize as (select person_id, sum(n) as n from cells group by all)
        select
            (select count(*) from j),
            (select sum(n * (n - 1) / 2) from cells),
            (select sum(n * (n - 1) / 2) from csize),
            (select sum(n * (n - 1) / 2) from tsize),
            (select sum(c.n * c.n / s.n) from cells c join csize s using (cluster_id)),
            (select sum(c.n * c.n / s.n) from cells c join tsize s using (person_id))
        """
    ).fetchall()[0]
    records, tp, predicted, actual, b_p, b_r = row
    p = tp / predicted if predicted else 1.0
    r = tp / actual if actual else 1.0
    bp, br = b_p / records, b_r / records
    return Scores(records, p, r, _f1(p, r), bp, br, _f1(bp, br))


@dataclass(frozen=True)
class MissedPairs:
    """True pairs left apart, by the best evidence the two parts of the person share.

    - ``identifier``: an e-mail or phone (equal or one typo apart), a birth date, or a street at
      the same postcode: a matcher could find them;
    - ``full_name``: only a full name (either order), which namesakes share too;
    - ``surname``: only a last name;
    - ``nothing``: no attribute at all (a ticket with only a placeholder, an e-mail used nowhere
      else, a new surname).
    """

    total: int
    identifier: int
    full_name: int
    surname: int
    nothing: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def missed_pairs(con: duckdb.DuckDBPyConnection, clusters: str, records: str) -> MissedPairs:
    """Break down the true pairs that ``clusters(unique_id, cluster_id)`` misses against ``_truth``.

    ``records`` holds the standardised attributes (``identity.records``' columns). Evidence is taken
    between the two parts (clusters) of a person, not only the two records of a pair: a part is
    found through any of its records.
    """
    row = con.execute(
        f"""
        with j as (
            select t.unique_id, t.person_id,
                   coalesce(c.cluster_id, 'singleton:' || t.unique_id) as cluster_id,
                   r.email, r.phone, r.birth_date, r.street, r.postcode, r.first_name, r.last_name
            from _truth t
            left join {clusters} c using (unique_id)
            left join {records} r using (unique_id)
        ),
        parts as (
            select count(*) as pairs,
                   coalesce(bool_or(
                       damerau_levenshtein(a.email, b.email) <= 1
                       or damerau_levenshtein(a.phone, b.phone) <= 1
                       or a.birth_date = b.birth_date
                       or (a.street = b.street and a.postcode = b.postcode)
                   ), false) as identifier,
                   coalesce(bool_or(
                       (a.first_name = b.first_name and a.last_name = b.last_name)
                       or (a.first_name = b.last_name and a.last_name = b.first_name)
                   ), false) as full_name,
                   coalesce(bool_or(a.last_name = b.last_name), false) as surname
            from j a join j b on a.person_id = b.person_id and a.cluster_id < b.cluster_id
            group by a.person_id, a.cluster_id, b.cluster_id
        )
        select coalesce(sum(pairs), 0),
               coalesce(sum(pairs) filter (where identifier), 0),
               coalesce(sum(pairs) filter (where not identifier and full_name), 0),
               coalesce(sum(pairs) filter (where not identifier and not full_name and surname), 0),
               coalesce(sum(pairs) filter (where not (identifier or full_name or surname)), 0)
        from parts
        """
    ).fetchall()[0]
    return MissedPairs(*(int(v) for v in row))


@dataclass(frozen=True)
class BlockingRecall:
    """True pairs of named records, and how many no blocking rule compares (Splink never scored
    them: only deterministic links or attachments can join them)."""

    named_true_pairs: int
    never_compared: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def blocking_recall(con: duckdb.DuckDBPyConnection, keys: str = "identity.blocking_keys") -> BlockingRecall:
    """Count the true pairs (``_truth``) whose records share no blocking key of ``keys`` (one column
    per rule, as ``splink_inputs.build_inputs`` writes them)."""
    columns = [
        r[0] for r in con.execute(f"select * from {keys} limit 0").description if r[0] not in NOT_RULES
    ]
    shared = " or ".join(f"a.{c} = b.{c}" for c in columns) or "false"
    row = con.execute(
        f"""
        with keyed as (select t.person_id, k.* from _truth t join {keys} k using (unique_id))
        select count(*), count(*) filter (where not coalesce({shared}, false))
        from keyed a join keyed b on a.person_id = b.person_id and a.unique_id < b.unique_id
        """
    ).fetchall()[0]
    return BlockingRecall(int(row[0]), int(row[1]))


def score_customer_ids(
    con: duckdb.DuckDBPyConnection,
    truth_file: Path,
    customer_records: str = "identity.customer_source_records",
) -> Scores:
    """Score the customer ids of ``customer_records(unique_id, customer_id)`` against a truth file."""
    load_truth(con, truth_file)
    return score(con, f"(select unique_id, customer_id as cluster_id from {customer_records})")


def baseline_clusters(con: duckdb.DuckDBPyConnection, records: str = "identity.records") -> str:
    """The deterministic baseline: records sharing an exact standardised e-mail or phone are one
    customer (connected components, i.e. union-find). Returns the name of a relation
    ``(unique_id, cluster_id)``."""
    con.execute(
        f"""
        create or replace table _baseline_edges as
        select unique_id as unique_id_l, min(unique_id) over (partition by email) as unique_id_r,
               1.0 as match_probability
        from {records} where email is not null
        union all
        select unique_id, min(unique_id) over (partition by phone), 1.0
        from {records} where phone is not null
        """
    )
    return connected_components(con, records, "_baseline_edges")


def missed_customer_pairs(
    con: duckdb.DuckDBPyConnection,
    customer_records: str = "identity.customer_source_records",
    records: str = "identity.records",
) -> MissedPairs:
    """``missed_pairs`` of the customer ids, against the truth ``score_customer_ids`` loaded."""
    clusters = f"(select unique_id, customer_id as cluster_id from {customer_records})"
    return missed_pairs(con, clusters, records)


@dataclass(frozen=True)
class CustomerCounts:
    """The customer count against the number of people, over the truth's records.

    - ``customers``: distinct customer ids (a truth record the clustering does not know is one);
    - ``people``: distinct people of the truth;
    - ``people_split``: people whose records are in more than one customer;
    - ``ids_merging_people``: customers holding the records of more than one person;
    - ``evidence_limit``: the customers left if, within each person, every two parts (the records of
      the person inside one customer) sharing an identifier were joined: an e-mail or phone equal or
      one edit apart, a birth date, a street at the same postcode, a loyalty card, an account id.
      Parts sharing nothing a matcher may trust stay apart, so this is as few customers as the
      evidence supports; ``people`` is out of reach when some people share nothing. It counts
      customers, so a customer holding several people is one (counting the parts instead would
      count it once per person);
    - ``evidence_limit_with_full_names``: the same, joining parts sharing a full name (either order)
      too, which namesakes share as well.
    """

    customers: int
    people: int
    people_split: int
    ids_merging_people: int
    evidence_limit: int
    evidence_limit_with_full_names: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def customer_counts(con: duckdb.DuckDBPyConnection, clusters: str, records: str) -> CustomerCounts:
    """Count the customers of ``clusters(unique_id, cluster_id)`` against the people of ``_truth``.

    ``records`` holds the standardised attributes (``identity.records``' columns). The evidence
    limits are connected components over the customers, linked when they hold records of one person
    sharing an identifier (or a full name); the pairs of records are only formed within a person, so
    the cost grows with the records per person, not with the square of the records.
    """
    con.execute(
        f"""
        create or replace temp table _truth_parts as
        select t.unique_id, t.person_id,
               coalesce(c.cluster_id, 'singleton:' || t.unique_id) as cluster_id,
               r.email, r.phone, r.birth_date, r.street, r.postcode, r.loyalty_card, r.account_id,
               r.first_name, r.last_name
        from _truth t
        left join {clusters} c using (unique_id)
        left join {records} r using (unique_id)
        """
    )
    con.execute(
        """
        create or replace temp table _part_links as
        select a.cluster_id as unique_id_l, b.cluster_id as unique_id_r,
               coalesce(bool_or(
                   damerau_levenshtein(a.email, b.email) <= 1
                   or damerau_levenshtein(a.phone, b.phone) <= 1
                   or a.birth_date = b.birth_date
                   or (a.street = b.street and a.postcode = b.postcode)
                   or a.loyalty_card = b.loyalty_card
                   or a.account_id = b.account_id
               ), false) as identifier,
               coalesce(bool_or(
                   (a.first_name = b.first_name and a.last_name = b.last_name)
                   or (a.first_name = b.last_name and a.last_name = b.first_name)
               ), false) as full_name
        from _truth_parts a join _truth_parts b
          on a.person_id = b.person_id and a.cluster_id < b.cluster_id
        group by a.cluster_id, b.cluster_id
        """
    )
    customers, people, split, merging = con.execute(
        """
        select count(distinct cluster_id), count(distinct person_id),
               (select count(*) from (
                   select person_id from _truth_parts group by all having count(distinct cluster_id) > 1)),
               (select count(*) from (
                   select cluster_id from _truth_parts group by all having count(distinct person_id) > 1))
        from _truth_parts
        """
    ).fetchall()[0]
    nodes = "(select cluster_id as unique_id from _truth_parts)"
    limits = []
    for links in ("identifier", "identifier or full_name"):
        components = connected_components(con, nodes, f"(select * from _part_links where {links})")
        limits.append(con.execute(f"select count(distinct cluster_id) from {components}").fetchall()[0][0])
        con.execute(f"drop table {components}")
    con.execute("drop table _part_links")
    con.execute("drop table _truth_parts")
    return CustomerCounts(customers, people, split, merging, *limits)


@dataclass(frozen=True)
class Evaluation:
    """What ``evaluate_warehouse`` measures: the customer ids' scores (``model``), the baseline's,
    the true pairs the customer ids miss, the blocking rules' recall (``None`` without
    ``identity.blocking_keys``) and the customer count against the people."""

    model: Scores
    baseline: Scores
    missed: MissedPairs
    blocking: BlockingRecall | None
    counts: CustomerCounts


def evaluate_warehouse(warehouse: Path, truth_file: Path) -> Evaluation:
    """Score the warehouse's current customer ids and the baseline against ``truth_file``, break
    down the pairs the customer ids miss, count the true pairs no blocking rule compared, and count
    the customers against the people.

    The warehouse is attached read-only to an in-memory database, so evaluating never writes it.
    """
    con = duckdb.connect()
    con.execute(f"attach '{warehouse}' as wh (read_only)")
    con.execute(
        "create table records as select unique_id, email, phone, birth_date, street, postcode, "
        "loyalty_card, account_id, first_name, last_name from wh.identity.records"
    )
    model = score_customer_ids(con, truth_file, "wh.identity.customer_source_records")
    missed = missed_customer_pairs(con, "wh.identity.customer_source_records", "records")
    counts = customer_counts(
        con,
        "(select unique_id, customer_id as cluster_id from wh.identity.customer_source_records)",
        "records",
    )
    baseline = score(con, baseline_clusters(con, "records"))
    has_keys = con.execute(
        "select count(*) from duckdb_tables() "
        "where database_name = 'wh' and schema_name = 'identity' and table_name = 'blocking_keys'"
    ).fetchall()[0][0]
    blocking = blocking_recall(con, "wh.identity.blocking_keys") if has_keys else None
    con.close()
    return Evaluation(model, baseline, missed, blocking, counts)
