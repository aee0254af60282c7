"""What is checked, per asset: the Great Expectations suites, readable as a table of rules.

Severity decides what a failure does (``gx.Check.critical``):

- ``critical``: the data cannot be trusted; the Dagster check is **blocking** (ERROR) and nothing
  downstream materializes in that run;
- ``warning``: worth a look; the check fails with WARN and the run goes on.

Raw suites are derived from the *effective* export contracts (``orchestration/exports`` with the
retailer's mapping file applied, ``effective_tables``), so the required columns are those the
loader and ``cdp inspect`` apply too: every required column not null, the key unique within each
delivered file, dates and timestamps not in the future. Hand-written rules add ranges (scores,
amounts) and formats (messy by nature, so they are warnings with a tolerated share of bad values,
``mostly``). Identity and marts suites check
the invariants the rest of the product relies on; the identity shares (linked only by Splink,
left alone) are judged against the warehouse's previous identity run rather than a fixed band
(``_share_checks``). To add a rule, add a ``Check`` below.
"""

from __future__ import annotations

import json
import re

import great_expectations.expectations as gxe

from orchestration.exports import ALL_TABLES, ExportTable
from orchestration.identity import SHIPPED_CONFIG, IdentityConfigError, load_identity_settings
from orchestration.identity.decisions import DECISIONS_IF_MISSING_DDL, STATUS_IF_MISSING_DDL
from orchestration.identity.history import ESTIMATES_DDL, RUNS_DDL
from orchestration.lib.dbt import ensure_manifest
from orchestration.quality.gx import Check, Suite
from orchestration.settings import QualitySettings

CRITICAL = "critical"
WARNING = "warning"

# Formats: share of well-formed values below which the source export needs a look.
EMAIL = r"[^@\s]+@[^@\s]+\.[a-z]{2,}"
PHONE = r"(\+|00)?[0-9]{9,15}"  # after removing spaces, dots, dashes and parentheses
POSTCODE = r"[0-9]{5}"
FORMATS: dict[str, dict[str, str]] = {
    "pos_tickets": {"email_client": EMAIL, "tel_client": PHONE},
    "ecommerce_customers": {"email": EMAIL, "phone": PHONE, "zip": POSTCODE},
    "ecommerce_orders": {"email": EMAIL, "billing_phone": PHONE, "billing_zip": POSTCODE},
    "crm_contacts": {"email": EMAIL, "phone": PHONE, "zip": POSTCODE},
    "crm_tickets": {"requester_email": EMAIL, "requester_phone": PHONE},
    "survey_responses": {"respondent_email": EMAIL},
}
FORMAT_MOSTLY = 0.9
# The largest drop (0.02 = 2 points) of an identity accuracy estimate between two runs before a
# warning: on the 10k sample both estimates sit within 1.5 points of the truth (docs/identity.md).
ESTIMATE_MAX_DROP = 0.02

# Ranges: (column, min, max, severity). None = unbounded.
RANGES: dict[str, list[tuple[str, float | None, float | None, str]]] = {
    "survey_responses": [("nps", 0, 10, CRITICAL), ("csat", 1, 5, CRITICAL), ("ces", 1, 7, CRITICAL)],
    "pos_ticket_lines": [("quantite", -100, 100, WARNING)],
    "pos_tickets": [("montant_ttc", -10_000, 10_000, WARNING)],
    "ecommerce_orders": [
        ("total", 0, 20_000, CRITICAL),
        ("shipping", 0, None, CRITICAL),
        # Refunds are exported as positive amounts; the staging layer signs them.
        ("refunded_amount", 0, None, CRITICAL),
    ],
    "ecommerce_order_lines": [("quantity", 1, 100, WARNING), ("refunded_quantity", 0, 100, WARNING)],
    "crm_contacts": [("loyalty_points", 0, None, WARNING)],
}

# Freshness, per source: its newest record across these (table, column) pairs; the check sits on
# the first table of the list.
FRESHNESS: dict[str, list[tuple[str, str]]] = {
    "pos": [("pos_tickets", "date_heure")],
    "ecommerce": [("ecommerce_orders", "created_at"), ("ecommerce_web_events", "event_at")],
    "crm": [
        ("crm_contacts", "lastmodifieddate"),
        ("crm_tickets", "created_at"),
        ("crm_consents", "stated_at"),
    ],
    "survey": [("survey_responses", "submitted_at")],
}


def _in_set_true(name: str, column: str, description: str, severity: str, mostly: float = 1.0) -> Check:
    """A predicate computed in the batch query (``column`` is boolean) that must hold."""
    return Check(
        name,
        gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=[True], mostly=mostly, severity=severity, description=description
        ),
    )


def raw_suite(spec: ExportTable, quality: QualitySettings, freshness: bool = True) -> Suite:
    """The suite of ``raw.<spec.table>``; ``freshness=False`` leaves out the source's freshness,
    which reads the other raw tables of the source (``cdp inspect`` has only the file's)."""
    checks: list[Check] = []
    predicates: list[str] = []
    for column in spec.columns:
        if column.required:
            checks.append(
                Check(
                    f"{column.name}_not_null",
                    gxe.ExpectColumnValuesToNotBeNull(
                        column=column.name, severity=CRITICAL, description=f"{column.name} is present"
                    ),
                )
            )
        if column.type in ("date", "timestamp", "timestamptz"):
            # Till timestamps are local Paris time without a zone: a day of slack covers it.
            predicates.append(f"{column.name} <= now() + interval 1 day as {column.name}__not_in_future")
            checks.append(
                _in_set_true(
                    f"{column.name}_not_in_future",
                    f"{column.name}__not_in_future",
                    f"{column.name} is not in the future",
                    # A mistyped birth date (2062) is one person's attribute, which identity
                    # resolution ignores; an event in the future would corrupt facts and KPIs.
                    WARNING if column.type == "date" and column.pii else CRITICAL,
                )
            )
    key = ", ".join(spec.key)
    checks.append(
        Check(
            "key_unique_per_file",
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    f"select _source_file, {key}, count(*) as copies from {{batch}} "
                    f"group by _source_file, {key} having count(*) > 1"
                ),
                severity=CRITICAL,
                description=f"({key}) is unique within each delivered file",
            ),
        )
    )
    for column, low, high, severity in RANGES.get(spec.table, []):
        checks.append(_range_check(column, low, high, severity))
    for column, pattern in FORMATS.get(spec.table, {}).items():
        # Surrounding spaces are not a malformed value: standardisation trims them.
        value = (
            f"regexp_replace({column}, '[\\s.()-]', '', 'g')"
            if pattern == PHONE
            else f"lower(trim({column}))"
        )
        predicates.append(f"regexp_full_match({value}, '{pattern}') as {column}__well_formed")
        checks.append(
            _in_set_true(
                f"{column}_format",
                f"{column}__well_formed",
                f"{column} well formed in at least {FORMAT_MOSTLY:.0%} of the rows that have one",
                WARNING,
                FORMAT_MOSTLY,
            )
        )
    sources = FRESHNESS.get(spec.source, [])
    if freshness and sources and sources[0][0] == spec.table:
        hours = quality.freshness_hours[spec.source]
        as_of = f"'{quality.as_of}'::timestamptz" if quality.as_of else "now()"
        newest = " union all ".join(
            f"select max({c})::timestamptz as newest_at from raw.{t}" for t, c in sources
        )
        predicates.append(
            f"round(date_diff('minute', (select max(newest_at) from ({newest})), {as_of}) / 60.0, 1)"
            " as source_age_hours"
        )
        checks.append(
            Check(
                "source_fresh",
                gxe.ExpectColumnMaxToBeBetween(
                    column="source_age_hours",
                    max_value=hours,
                    severity=WARNING,
                    description=(
                        f"age in hours of the newest {spec.source} record "
                        f"({', '.join(t for t, _ in sources)}) at most {hours} "
                        f"(CDP_FRESHNESS_HOURS_{spec.source.upper()})"
                    ),
                ),
            )
        )
    select = ", ".join(["*", *predicates])
    return Suite(("raw", spec.table), f"select {select} from raw.{spec.table}", tuple(checks))


def _share_checks(quality: QualitySettings) -> list[Check]:
    """The shares of identity records linked only by Splink, and left alone.

    How large they should be depends on the data (no e-mail at the tills means many more
    probabilistic links), so the fixed bands are warnings unless the user sets them. What is an
    error is a jump between two runs of one warehouse (``orchestration/identity/history.py``):
    the batch query computes each share's move since the previous run, 0 on a first run.
    """
    jump = quality.identity_max_jump
    checks = []
    for method, band, what in (
        ("probabilistic", quality.probabilistic_share, "linked only by Splink"),
        ("singleton", quality.singleton_share, "left alone"),
    ):
        variable = f"CDP_QUALITY_{method.upper()}_SHARE"
        origin = f"({variable})" if band.explicit else f"(our sample data's band; set {variable} to block)"
        checks.append(
            Check(
                f"{method}_share_in_band",
                gxe.ExpectColumnMeanToBeBetween(
                    column=f"is_{method}",
                    min_value=band.low,
                    max_value=band.high,
                    severity=CRITICAL if band.explicit else WARNING,
                    description=f"share of records {what} in [{band.low}, {band.high}] {origin}",
                ),
            )
        )
        checks.append(
            Check(
                f"{method}_share_near_previous_run",
                gxe.ExpectColumnMaxToBeBetween(
                    column=f"{method}_share_jump",
                    min_value=-jump,
                    max_value=jump,
                    severity=CRITICAL,
                    description=f"share of records {what} moved by at most {jump * 100:g} points since "
                    "the previous identity run (CDP_QUALITY_IDENTITY_MAX_JUMP); none on a first run",
                ),
            )
        )
    return checks


def _estimate_checks() -> list[Check]:
    """The accuracy estimated without a truth file (``orchestration/identity/estimate.py``) must not
    drop by more than ``ESTIMATE_MAX_DROP`` between two runs. A warning: the estimates rest on the
    pairs a key joins and on the model's probabilities, and move with them as well as with the
    clustering; a drop is worth a look, not a stop."""
    return [
        Check(
            f"{column}_near_previous_run",
            gxe.ExpectColumnMinToBeBetween(
                column=f"{column}_change",
                min_value=-ESTIMATE_MAX_DROP,
                max_value=None,
                severity=WARNING,
                description=f"{what} dropped by at most {ESTIMATE_MAX_DROP * 100:g} points since the "
                "previous identity run (identity.accuracy_estimates); none on a first run",
            ),
        )
        for column, what in (
            ("estimated_recall", "pairwise recall estimated from hidden keys"),
            ("expected_precision", "expected pairwise precision"),
        )
    ]


def _cluster_cap() -> int:
    """The resolver's cluster cap (identity.yml). A bad identity file must not stop the code location
    from loading: the identity step itself fails on it, naming the key; checks use the shipped cap."""
    try:
        return load_identity_settings().max_cluster_size
    except IdentityConfigError:
        return load_identity_settings(SHIPPED_CONFIG).max_cluster_size


def _identity_suites(quality: QualitySettings) -> list[Suite]:
    cap = quality.max_cluster_records or _cluster_cap()
    mapping = Suite(
        ("identity", "customer_source_records"),
        """
        select mapped.*,
            (match_method = 'probabilistic')::int as is_probabilistic,
            (match_method = 'singleton')::int as is_singleton,
            coalesce(newest_run.probabilistic_share_jump, 0) as probabilistic_share_jump,
            coalesce(newest_run.singleton_share_jump, 0) as singleton_share_jump,
            coalesce(newest_estimate.estimated_recall_change, 0) as estimated_recall_change,
            coalesce(newest_estimate.expected_precision_change, 0) as expected_precision_change
        from identity.customer_source_records as mapped
        left join (
            -- how far each share moved since the run before (null on a first run)
            select round(probabilistic_share - lag(probabilistic_share) over runs, 4)
                       as probabilistic_share_jump,
                   round(singleton_share - lag(singleton_share) over runs, 4) as singleton_share_jump
            from identity.resolution_runs
            window runs as (order by run_number)
            order by run_number desc limit 1
        ) as newest_run on true
        left join (
            -- how far each accuracy estimate moved since the run before (null on a first run)
            select round(estimated_recall - lag(estimated_recall) over runs, 4) as estimated_recall_change,
                   round(expected_precision - lag(expected_precision) over runs, 4)
                       as expected_precision_change
            from identity.accuracy_estimates
            window runs as (order by estimated_at)
            order by estimated_at desc limit 1
        ) as newest_estimate on true
        """,
        (
            Check(
                "every_record_mapped_once",
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query="""
                        select records.unique_id, count(mapped.unique_id) as mappings
                        from identity.records
                        left join {batch} as mapped using (unique_id)
                        group by records.unique_id having count(mapped.unique_id) <> 1
                        union all
                        select unique_id, 0 from {batch}
                        where unique_id not in (select unique_id from identity.records)
                    """,
                    severity=CRITICAL,
                    description="every identity record has exactly one customer_id",
                ),
            ),
            # Above the cap, the resolver keeps a cluster to its exact links (a loyalty card, an
            # account): a weekly shopper has more than 60 till tickets a year and is one person.
            # What must never happen is a larger customer made of scored or attached links.
            Check(
                "no_cluster_above_cap",
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query=f"""
                        select customer_id, count(*) as records from {{batch}}
                        group by customer_id having count(*) > {cap} and not bool_and(in_flagged_cluster)
                    """,
                    severity=CRITICAL,
                    description=f"no customer has more than {cap} records (CDP_IDENTITY_MAX_CLUSTER) "
                    "unless kept to its exact links",
                ),
            ),
            Check(
                "no_flagged_cluster",
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query="""
                        select customer_id, count(*) as records from {batch}
                        where in_flagged_cluster group by customer_id
                    """,
                    severity=WARNING,
                    description=f"no cluster above {cap} records was kept to its exact links (a frequent "
                    "shopper's card, or an identifier many people share: see identity.flagged_clusters)",
                ),
            ),
            # A steward's decision is a correction someone relies on: one that no longer holds (a
            # record gone, two decisions that contradict) is worth a look, not a stop.
            Check(
                "steward_decisions_hold",
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query="""
                        select s.decision_id, s.kind, s.note, count(b.unique_id) as records_still_mapped
                        from identity.steward_decision_status s
                        join identity.steward_decisions d using (decision_id)
                        left join {batch} b on list_contains(d.side_a || d.side_b, b.unique_id)
                        where not s.holds
                        group by all
                    """,
                    severity=WARNING,
                    description="every steward decision in force holds in the clusters (`cdp identity "
                    "decisions list`; identity.steward_decision_status says why not)",
                ),
            ),
            *_share_checks(quality),
            *_estimate_checks(),
        ),
        # A warehouse whose identity ran before runs (estimates, decisions) were recorded lacks
        # their tables.
        prepare=(RUNS_DDL, ESTIMATES_DDL, STATUS_IF_MISSING_DDL, DECISIONS_IF_MISSING_DDL),
    )
    return [mapping]


# KPI ranges per mart that are not fractions: (column, min, max); None = unbounded. Every rate and
# share is a fraction in [0, 1] (``FRACTION``), found from the dbt docs (``_fraction_columns``).
# Keys (unique, not null), relationships, shares that sum to 1 and the reconciliation of
# fct_orders with raw are dbt tests (dbt_project/), which Dagster runs as checks of the same assets.
KPI_RANGES: dict[str, list[tuple[str, float, float | None]]] = {
    # Scores, not shares: NPS in points, CSAT in % satisfied, CES on its 1-7 scale.
    "mart_satisfaction": [("nps", -100, 100), ("csat", 0, 100), ("ces_mean", 1, 7)],
    "mart_satisfaction_by_period": [("nps", -100, 100), ("csat", 0, 100), ("ces_mean", 1, 7)],
    "mart_cost_to_serve": [("cost_eur", 0, None)],
}
# A rate or share, by its name: ``*_rate``, ``*_share``, ``share_of_*``, or one of the first two
# with its window (``retention_rate_12m``). A ``share_of_*`` rate's interval bounds are fractions
# too; its ``_is_reliable`` flag is a boolean, not a fraction.
FRACTION = re.compile(r"(_rate|_share)(_[0-9]+[dwmy])?$|^share_of_(?!.*_is_reliable$)")


def _fraction_columns() -> dict[str, list[str]]:
    """The documented columns of every marts model that are rates or shares, per model.

    Read from the dbt manifest, so a new mart's rates are checked as soon as they are documented;
    ``tests/test_quality.py`` fails when a rate in the warehouse is not documented.
    """
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["fqn"][1] == "marts":
            columns = [c for c in node["columns"] if FRACTION.search(c)]
            if columns:
                found[node["name"]] = sorted(columns)
    return found


def _range_check(column: str, low: float | None, high: float | None, severity: str) -> Check:
    bounds = f"between {low} and {high}" if high is not None else f">= {low}"
    return Check(
        f"{column}_in_range",
        gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=low, max_value=high, severity=severity, description=f"{column} {bounds}"
        ),
    )


def _marts_suites() -> list[Suite]:
    fractions = _fraction_columns()
    marts = sorted(set(fractions) | set(KPI_RANGES))
    return [
        Suite(
            ("marts", mart),
            f"select * from marts.{mart}",
            tuple(
                _range_check(column, low, high, CRITICAL)
                for column, low, high in [
                    *KPI_RANGES.get(mart, []),
                    *((column, 0, 1) for column in fractions.get(mart, [])),
                ]
            ),
        )
        for mart in marts
    ]


def build_suites(quality: QualitySettings, tables: tuple[ExportTable, ...] = ALL_TABLES) -> list[Suite]:
    """Every suite, with thresholds from ``quality`` (check names do not depend on them) and the
    raw suites of ``tables`` (``effective_tables``: the mapping file applied)."""
    return [raw_suite(spec, quality) for spec in tables] + _identity_suites(quality) + _marts_suites()
