"""The plain-Splink reference: what a Splink user would get from a warehouse's records with the
model Splink's tutorials build, the yardstick our identity resolution must never score below.

It reads ``identity.records`` of any warehouse (attached read-only: the warehouse is never
written) and fits Splink on it as the tutorials and docs do: ``comparison_library`` comparisons
with their defaults, the prior from deterministic rules with an assumed recall of 0.7, u by random
sampling, m by EM on a few blocking rules, one threshold, connected components. None of our own
standardisation, guards or constrained merging is used, with one exception that is ours to state:
names and streets are taken as typed (``*_as_typed``, only lower-cased and trimmed here), but
e-mail, phone, postcode, city and birth date are the standardised columns of ``identity.records``
(a Splink user would clean those too before linking; keeping a second, raw copy of them in
``identity.records`` for this reference alone is not worth its storage).

Every record of ``identity.records`` takes part, those without any name too (web visitors, survey
answers, tickets with only a loyalty card): they carry an e-mail, a phone, a web account or a
card, and leaving them out would score them as singletons the truth does not have. The source
keys records share (web account, CRM contact, loyalty card) are compared exactly, as a Splink
user holding those columns would, when some value of theirs is shared by two records.

Each comparison is used only when its field is populated on at least 1 % of the records: a field
that is nearly always empty gives EM nothing to learn from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from orchestration.identity.evaluate import load_truth, score

# The match probability above which a pair is a match, for scoring pairs and for clustering.
THRESHOLD = 0.5
# A field takes part when at least this share of records has it.
MIN_POPULATED = 0.01
SEED = 42
MAX_PAIRS_FOR_U = 1e7
# The recall assumed for the deterministic rules of the prior, as Splink's tutorials assume it.
PRIOR_RECALL = 0.7

# What the reference reads from identity.records: names and street as typed, the rest as
# standardised there.
COLUMNS = {
    "first_name": "nullif(lower(trim(first_name_as_typed)), '')",
    "last_name": "nullif(lower(trim(last_name_as_typed)), '')",
    "birth_date": "birth_date",
    "street": "nullif(lower(trim(street_as_typed)), '')",
    "postcode": "postcode",
    "city": "city",
    "email": "email",
    "phone": "phone",
    "account_id": "account_id",
    "contact_id": "contact_id",
    "loyalty_card": "loyalty_card",
}
# Source keys: compared only when some value is shared (a CRM contact's own id never is).
IDENTIFIERS = ("account_id", "contact_id", "loyalty_card")


def _comparisons() -> dict[str, Callable[[], Any]]:
    """What is compared and how, per field: ``comparison_library`` defaults as the tutorials use
    them (Splink imported on first use: the module is imported by the CLI for its help text)."""
    import splink.comparison_library as cl

    def tf(comparison: Any) -> Any:
        return comparison.configure(term_frequency_adjustments=True)

    return {
        "first_name": lambda: tf(cl.NameComparison("first_name")),
        "last_name": lambda: tf(cl.NameComparison("last_name")),
        "birth_date": lambda: cl.DateOfBirthComparison("birth_date", input_is_string=False),
        "postcode": lambda: tf(cl.ExactMatch("postcode")),
        "city": lambda: tf(cl.ExactMatch("city")),
        "street": lambda: cl.JaroWinklerAtThresholds("street"),
        "email": lambda: cl.EmailComparison("email"),
        "phone": lambda: cl.LevenshteinAtThresholds("phone"),
        **{key: (lambda key=key: cl.ExactMatch(key)) for key in IDENTIFIERS},
    }


# How pairs are found (each rule used when all its fields take part).
BLOCKING = (
    ("first_name", "last_name"),
    ("birth_date",),
    ("postcode", "last_name"),
    ("email",),
    ("phone",),
    *((key,) for key in IDENTIFIERS),
)
# Deterministic rules for the prior (the chance that two random records match). Each allows one
# name to be mistyped: the tutorials' first name + surname + birth date finds no pair at all in a
# set whose duplicates each carry one typo (RLdata), and the prior would be zero.
PRIOR_RULES = (
    ("first_name", "birth_date"),
    ("last_name", "birth_date"),
    ("first_name", "last_name", "postcode"),
    ("email",),
    ("phone",),
)
# One EM session per rule: each leaves the other comparisons free to be estimated.
TRAINING = (("first_name", "last_name"), ("birth_date",), ("postcode",))


@dataclass(frozen=True)
class ReferenceRun:
    seconds: float  # training, prediction and clustering; not reading the records
    records: int
    fields: tuple[str, ...]  # the fields compared
    pairs_scored: int  # pairs above the threshold
    customers: int  # clusters
    scores: dict[str, float] | None  # with a truth file

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fields(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The fields populated on at least ``MIN_POPULATED`` of the records (identifiers: and shared)."""
    counts = con.execute(
        "select count(*), " + ", ".join(f"count({c})" for c in COLUMNS) + " from reference_records"
    ).fetchall()[0]
    total, filled = counts[0], dict(zip(COLUMNS, counts[1:], strict=True))
    fields = [c for c in COLUMNS if total and filled[c] / total >= MIN_POPULATED]
    shared = {
        key
        for key in IDENTIFIERS
        if key in fields
        and con.execute(
            f"select count(*) > count(distinct {key}) from reference_records where {key} is not null"
        ).fetchall()[0][0]
    }
    return tuple(c for c in fields if c not in IDENTIFIERS or c in shared)


def _rules(rules: tuple[tuple[str, ...], ...], fields: tuple[str, ...]) -> list[Any]:
    from splink import block_on

    return [block_on(*rule) for rule in rules if set(rule) <= set(fields)]


def plain_splink(warehouse: Path, truth_file: Path | None, threads: int | None = None) -> ReferenceRun:
    """Fit, predict and cluster plain Splink on ``warehouse``'s ``identity.records``; score the
    clusters against ``truth_file`` (pairwise and B-cubed) when one is given."""
    from splink import DuckDBAPI, Linker, SettingsCreator
    from splink.clustering import cluster_pairwise_predictions_at_threshold
    from splink.internals.exceptions import EMTrainingException

    con = duckdb.connect(config={"threads": threads} if threads else {})
    try:
        con.execute(f"attach '{warehouse}' as warehouse (read_only)")
        selects = ", ".join(f"{sql} as {name}" for name, sql in COLUMNS.items())
        con.execute(
            f"create table reference_records as select unique_id, {selects} from warehouse.identity.records"
        )
        con.execute("detach warehouse")
        records = con.execute("select count(*) from reference_records").fetchall()[0][0]
        fields = _fields(con)
        comparisons = _comparisons()

        started = time.perf_counter()
        db_api = DuckDBAPI(con)
        nodes = db_api.register("reference_records", dataset_display_name="identity_records")
        settings = SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="unique_id",
            comparisons=[comparisons[f]() for f in fields],
            blocking_rules_to_generate_predictions=_rules(BLOCKING, fields),
        )
        linker = Linker(nodes, settings, log_level=logging.WARNING)
        # Without a name, birth date, e-mail or phone the prior comes from the blocking rules.
        prior = _rules(PRIOR_RULES, fields) or _rules(BLOCKING, fields)
        linker.training.estimate_probability_two_random_records_match(prior, recall=PRIOR_RECALL)
        linker.training.estimate_u_using_random_sampling(max_pairs=MAX_PAIRS_FOR_U, seed=SEED)
        for rule in _rules(TRAINING, fields):
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
            except EMTrainingException:  # no pair shares the rule's fields: nothing to learn from
                continue
        predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
        clusters = cluster_pairwise_predictions_at_threshold(
            nodes, predictions, db_api, "unique_id", threshold_match_probability=THRESHOLD
        )
        seconds = time.perf_counter() - started
        pairs = con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
        customers = con.execute(
            f"select count(distinct cluster_id) from {clusters.physical_name}"
        ).fetchall()[0][0]
        scores = None
        if truth_file is not None:
            load_truth(con, truth_file)
            scores = score(con, f"(select unique_id, cluster_id from {clusters.physical_name})").as_dict()
    finally:
        con.close()
    return ReferenceRun(round(seconds, 2), records, fields, pairs, customers, scores)
