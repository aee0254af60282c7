"""The Splink model: what we compare and how, how we block, how we train, from the fields present.

Read this module as a table. Each row is used only when its fields are populated (at least
``matching.min_field_share`` of the named records have them, 1 % by default): a retailer whose
exports carry no e-mail, or no address, gets a model of the fields it has.

| comparison  | needs          | levels                                                             | TF  |
|-------------|----------------|--------------------------------------------------------------------|-----|
| full name   | names          | exact, swapped, Jaro-Winkler, one name (ForenameSurnameComparison) | yes |
| email       | email          | exact, one edit (typo) with the same digits                        | yes |
| phone       | phone          | exact, one edit (typo)                                             | yes |
| birth_date  | birth_date     | exact, one digit wrong or day/month swapped, one part wrong, year  |     |
| place       | postcode, city | postcode exact (TF), city exact                                    | yes |
| street      | street         | same street other number, same street, Jaro-Winkler 0.95 / 0.85   |     |

Blocking rules keep the pairs compared linear in the number of records: each rule joins on a
value that few people share (an e-mail, a phone, a full name in either order, a surname within a
postcode or a city, a street within a postcode, a birth date, two of its parts with an initial,
one name with the other's first letters or with the birth year, a surname's sound with the first
name). A first name within a postcode was tried and dropped: at 100k generated customers it
compared 480,000 pairs (204,000 with the surname initial) to find 86 true pairs no other rule
found. Names, dates and places are not evenly spread, and a block of n records costs n²/2
comparisons, so those rules join on *capped* keys (``BLOCKING_KEYS``, built in
``splink_inputs.build_inputs``): when more records than the key's block cap share it, the key
is refined with one more attribute, and when even the most refined key is that common, the rule
leaves those records to the other rules. Each key's cap is raised where the pairs it adds most
often share an e-mail, phone or birth date, while the pairs fit the budget,
``matching.pairs_per_record`` times the named records (``splink_inputs.choose_block_caps``). A key
whose fields are missing is NULL and blocks nothing.

Prior (the chance that two random records match): estimated on every run from the first set of
``PRIOR_RULE_SETS`` whose rules the data supports and that finds pairs; else the saved model's
prior. Training: u by random sampling, m by EM on each of ``TRAINING_RULES`` whose fields are
present (``train.py``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

# The shipped model, trained on generated data: the fallback when no model was trained on the
# user's own records (CDP_DATA_DIR/identity/model.json, see trained_model_path).
MODEL_PATH = Path(__file__).resolve().parent / "model.json"

# Fields a comparison, a blocking rule or a training rule may need, as columns of the Splink inputs.
FIELDS = ("first_name", "last_name", "email", "phone", "birth_date", "postcode", "city", "street")
# The columns whose value frequencies adjust a comparison's weight (``_comparisons``: the names,
# the full name, e-mail, phone, postcode).
TERM_FREQUENCY_COLUMNS = ("full_name", "first_name", "last_name", "email", "phone", "postcode")


def full_name_sql(alias: str = "") -> str:
    """The full name Splink compares, from a record's names (``alias``: a table alias and a dot)."""
    return f"nullif(concat_ws(' ', {alias}first_name, {alias}last_name), '')"


# Capped blocking keys: name → (fields needed, SQL expressions from the coarsest to the most
# refined); a record gets the first one that at most the key's block cap of records share, or none.
BLOCKING_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # Both names, either order (catches swapped first and last names).
    "block_name": (
        ("first_name", "last_name"),
        (
            "least(first_name, last_name) || '|' || greatest(first_name, last_name)",
            "least(first_name, last_name) || '|' || greatest(first_name, last_name) || '|' || postcode",
            "least(first_name, last_name) || '|' || greatest(first_name, last_name) || '|' || birth_date",
        ),
    ),
    "block_surname_place": (
        ("last_name", "postcode"),
        (
            "last_name || '|' || postcode",
            "last_name || '|' || postcode || '|' || left(first_name, 1)",
            "last_name || '|' || postcode || '|' || street",
        ),
    ),
    "block_street_place": (
        ("street", "postcode"),
        ("street || '|' || postcode", "street || '|' || postcode || '|' || last_name"),
    ),
    # A birth date (alone while few share it, then with an initial): names swapped, mistyped or
    # missing, an address typo too, are still compared.
    "block_birth_date": (
        ("birth_date",),
        (
            "birth_date",
            "birth_date || '|' || left(first_name, 1)",
            "birth_date || '|' || left(first_name, 1) || '|' || left(last_name, 1)",
            "birth_date || '|' || left(first_name, 1) || '|' || postcode",
        ),
    ),
    # Two of the birth date's three parts with an initial: one part mistyped (month 13, a day
    # typed for another) and a name typo are still compared.
    "block_birth_year_month": (
        ("birth_date",),
        (
            "birth_year || '|' || birth_month || '|' || left(last_name, 1)",
            "birth_year || '|' || birth_month || '|' || left(last_name, 1) || '|' || left(first_name, 1)",
        ),
    ),
    "block_birth_month_day": (
        ("birth_date",),
        (
            "birth_month || '|' || birth_day || '|' || left(last_name, 1)",
            "birth_month || '|' || birth_day || '|' || left(last_name, 1) || '|' || left(first_name, 1)",
        ),
    ),
    "block_birth_year_day": (
        ("birth_date",),
        (
            "birth_year || '|' || birth_day || '|' || left(last_name, 1)",
            "birth_year || '|' || birth_day || '|' || left(last_name, 1) || '|' || left(first_name, 1)",
        ),
    ),
    # One name exact with the other's first letters: a typo in the other name (Paaulette / Paulette
    # Martin, Gomeez / Gomez) where nothing else is shared (a service ticket: a name and an e-mail).
    "block_surname_initial": (
        ("first_name", "last_name"),
        (
            "last_name || '|' || left(first_name, 1)",
            "last_name || '|' || left(first_name, 2)",
            "last_name || '|' || left(first_name, 1) || '|' || postcode",
        ),
    ),
    "block_first_name_initial": (
        ("first_name", "last_name"),
        (
            "first_name || '|' || left(last_name, 1)",
            "first_name || '|' || left(last_name, 2)",
            "first_name || '|' || left(last_name, 1) || '|' || postcode",
        ),
    ),
    # One name part exact with the birth year: the other name mistyped, the date partly wrong.
    "block_first_name_year": (
        ("first_name", "birth_date"),
        (
            "first_name || '|' || birth_year",
            "first_name || '|' || birth_year || '|' || birth_month",
        ),
    ),
    "block_last_name_year": (
        ("last_name", "birth_date"),
        (
            "last_name || '|' || birth_year",
            "last_name || '|' || birth_year || '|' || left(first_name, 1)",
        ),
    ),
    # How the surname sounds, with the first name: spelling variants (Lefebvre / Lefèvre). Within a
    # postcode first, else a birth year, else alone: most of its pairs have the same spelling and
    # are compared by the name rule already, so it is kept small where the data allows.
    "block_surname_sound": (
        ("first_name", "last_name"),
        (
            "last_name_sound || '|' || first_name || '|' || postcode",
            "last_name_sound || '|' || first_name || '|' || birth_year",
            "last_name_sound || '|' || first_name",
        ),
    ),
    # A surname in a city: data with towns but no postcodes (used only then: with postcodes,
    # "surname at a postcode" compares the same people).
    "block_surname_city": (
        ("last_name", "city"),
        ("last_name || '|' || city", "last_name || '|' || city || '|' || left(first_name, 1)"),
    ),
}
EXACT_BLOCKING_FIELDS = ("email", "phone")

# Sets of rules to estimate the prior with: they admit very few false positives, and are assumed
# to catch ``prior.recall`` of the true matches. The first set the data supports is used.
PRIOR_RULE_SETS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("email", "last_name"), ("phone", "last_name")),
    (("first_name", "last_name", "birth_date"),),
    (("first_name", "last_name", "postcode", "street"),),
    (("first_name", "last_name", "city", "street"),),
)

# One EM session per rule: blocking on exact fields leaves every other comparison free to be
# estimated (Splink deactivates the comparisons of the blocked fields). Every comparison needs a
# rule that leaves it free: names are estimated from e-mail, phone, birth-date or address blocks,
# birth date and address from name blocks. Blocks larger than ``training.em_max_pairs`` pairs are
# trained on a sample of their pairs, and EM iterates without term frequencies (``train.fit``).
# Per-rule EM is biased where a record's errors are not independent across fields;
# ``train.monotone_weights`` repairs the order of weights it can break.
TRAINING_RULES: tuple[tuple[str, ...], ...] = (
    ("email",),
    ("phone",),
    ("first_name", "last_name"),
    ("birth_date",),
    ("street", "postcode"),
)

# An e-mail typo keeps the digits: "bdubois59@" and "bdubois57@" are one edit apart but, at 100k
# customers, two namesakes 504 times out of 802 such pairs; with equal digits, 59 out of 1,581.
SAME_EMAIL_DIGITS = cll.CustomLevel(
    "regexp_replace(email_l, '[^0-9]', '', 'g') = regexp_replace(email_r, '[^0-9]', '', 'g')"
)
# Birth dates are compared by their parts as delivered (``splink_inputs.named_records``):
# ``birth_date`` is the text YYYYMMDD of the parts, also when they make no calendar date.
BIRTH_DATE_TYPO = cll.CustomLevel(
    "damerau_levenshtein(birth_date_l, birth_date_r) <= 1 "
    "or (birth_year_l = birth_year_r and birth_month_l = birth_day_r and birth_day_l = birth_month_r)",
).configure(label_for_charts="One digit wrong, or day and month swapped")


# Day, month or year typed wrong as a whole (a date picker's slip, a day typed for another field).
BIRTH_DATE_ONE_PART_WRONG = cll.CustomLevel(
    "(birth_year_l = birth_year_r)::int + (birth_month_l = birth_month_r)::int "
    "+ (birth_day_l = birth_day_r)::int = 2"
).configure(label_for_charts="Two of day, month and year equal")


def _comparisons() -> dict[str, tuple[tuple[str, ...], object]]:
    """Every comparison: output column → (fields of which one must be present, comparison)."""
    return {
        "first_name_last_name": (
            ("first_name", "last_name"),
            cl.ForenameSurnameComparison(
                "first_name", "last_name", forename_surname_concat_col_name="full_name"
            ),
        ),
        "email": (("email",), _email_comparison()),
        "phone": (
            ("phone",),
            cl.DamerauLevenshteinAtThresholds("phone", [1]).configure(term_frequency_adjustments=True),
        ),
        "birth_date": (("birth_date",), _birth_date_comparison()),
        "place": (("postcode", "city"), _place_comparison()),
        "street": (("street",), _street_comparison()),
    }


def _email_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email", term_frequency_adjustments=True),
            cll.And(cll.DamerauLevenshteinLevel("email", 1), SAME_EMAIL_DIGITS).configure(
                label_for_charts="One typo apart, same digits"
            ),
            cll.ElseLevel(),
        ],
        output_column_name="email",
        comparison_description=(
            "Exact match 'email' vs. one typo apart with the same digits vs. anything else"
        ),
    )


def _birth_date_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            BIRTH_DATE_TYPO,
            BIRTH_DATE_ONE_PART_WRONG,
            cll.CustomLevel("birth_year_l = birth_year_r").configure(label_for_charts="Same year"),
            cll.ElseLevel(),
        ],
        output_column_name="birth_date",
        comparison_description=(
            "Birth date parts as delivered: all equal vs. one typo or day/month swapped "
            "vs. two of day/month/year vs. same year vs. else"
        ),
    )


def _place_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.And(cll.NullLevel("postcode"), cll.NullLevel("city")),
            cll.ExactMatchLevel("postcode", term_frequency_adjustments=True),
            cll.ExactMatchLevel("city"),
            cll.ElseLevel(),
        ],
        output_column_name="place",
        comparison_description="Same postcode vs. same city vs. else",
    )


def _street_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel("street"),
            # Neighbours: one street, two house numbers. The same number adds little to the
            # street (households share both), a different one is evidence against.
            cll.CustomLevel("street_l = street_r and house_number_l <> house_number_r").configure(
                label_for_charts="Same street, different house numbers"
            ),
            cll.ExactMatchLevel("street"),
            cll.JaroWinklerLevel("street", 0.95),
            cll.JaroWinklerLevel("street", 0.85),
            cll.ElseLevel(),
        ],
        output_column_name="street",
        comparison_description=(
            "Same street but other number vs. same street vs. Jaro-Winkler 0.95 / 0.85 vs. else"
        ),
    )


COMPARISON_FIELDS = {name: fields for name, (fields, _) in _comparisons().items()}


@dataclass(frozen=True)
class ModelPlan:
    """What this run's data supports: populated fields and the rules and comparisons they allow."""

    field_share: dict[str, float]
    min_field_share: float
    records: int = 0  # named records the shares are of

    @property
    def present(self) -> frozenset[str]:
        return frozenset(f for f, share in self.field_share.items() if share >= self.min_field_share)

    def supports(self, fields: tuple[str, ...]) -> bool:
        return set(fields) <= self.present

    @property
    def comparisons(self) -> list[str]:
        """Comparisons with at least one of their fields present."""
        return [name for name, fields in COMPARISON_FIELDS.items() if set(fields) & self.present]

    @property
    def blocking_keys(self) -> list[str]:
        keys = [key for key, (fields, _) in BLOCKING_KEYS.items() if self.supports(fields)]
        if "postcode" in self.present:
            keys = [k for k in keys if k != "block_surname_city"]
        return keys

    @property
    def blocking_rules(self) -> list:
        exact = [block_on(f) for f in EXACT_BLOCKING_FIELDS if f in self.present]
        return exact + [block_on(key) for key in self.blocking_keys]

    @property
    def blocking_rule_names(self) -> list[str]:
        return [f for f in EXACT_BLOCKING_FIELDS if f in self.present] + self.blocking_keys

    @property
    def prior_rule_sets(self) -> list[list[tuple[str, ...]]]:
        sets = [[r for r in rule_set if self.supports(r)] for rule_set in PRIOR_RULE_SETS]
        return [s for s in sets if s]

    @property
    def training_rules(self) -> list[tuple[str, ...]]:
        """Fields of each EM session the data supports."""
        return [r for r in TRAINING_RULES if self.supports(r)]

    def describe(self) -> dict[str, object]:
        """What is active and why, for the run log and the asset's metadata."""
        return {
            "field_share_of_named_records": {f: round(s, 4) for f, s in self.field_share.items()},
            "field_threshold": self.min_field_share,
            "fields_used": sorted(self.present),
            "comparisons": self.comparisons,
            "blocking_rules": self.blocking_rule_names,
            "prior_rule_sets": [["+".join(r) for r in s] for s in self.prior_rule_sets],
            "training_rules": ["+".join(r) for r in self.training_rules],
        }


def settings(plan: ModelPlan, link_type: str = "link_and_dedupe") -> SettingsCreator:
    """Fresh (untrained) settings with the comparisons and blocking rules ``plan`` supports."""
    comparisons = _comparisons()
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=[comparisons[name][1] for name in plan.comparisons],
        blocking_rules_to_generate_predictions=plan.blocking_rules,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


def level_weights(saved: dict) -> dict[str, list[tuple[float, str]]]:
    """Per comparison of a saved model, each level's match weight (log2 m/u, the ``mw_`` a scored
    pair carries for it) and label: a kept pair's weights say which level each comparison reached."""
    levels: dict[str, list[tuple[float, str]]] = {}
    for comparison in saved.get("comparisons", []):
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or not m or not u:
                continue
            label = level.get("label_for_charts") or level.get("sql_condition", "")
            levels.setdefault(comparison["output_column_name"], []).append((math.log2(m / u), label))
    return levels


def read_model(path: Path) -> dict | None:
    """A saved Splink model (settings with m, u and prior), or None if there is no file."""
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _level_conditions(comparison) -> list[str]:
    """The SQL conditions of a comparison's levels, as a saved model holds them."""
    return [
        level["sql_condition"] for level in comparison.get_comparison("duckdb").as_dict()["comparison_levels"]
    ]


def missing_comparisons(saved: dict, plan: ModelPlan) -> list[str]:
    """Comparisons the data supports that the saved model has no parameters for, or has for an
    earlier definition of the comparison (its levels' SQL is not today's: a model trained before
    birth dates were compared by their parts)."""
    current = {name: _level_conditions(comparison) for name, (_, comparison) in _comparisons().items()}
    have = {
        c["output_column_name"]
        for c in saved["comparisons"]
        if current.get(c["output_column_name"])
        in (None, [level["sql_condition"] for level in c["comparison_levels"]])
    }
    return [name for name in plan.comparisons if name not in have]


def fit_to_plan(saved: dict, plan: ModelPlan) -> dict:
    """The saved model, keeping only comparisons the data supports, with this plan's blocking.

    Its m and u probabilities are used as saved; blocking decides what is compared, not how
    evidence weighs, so a change of blocking needs no retraining.
    """
    fitted = dict(saved)
    fitted["comparisons"] = [c for c in saved["comparisons"] if c["output_column_name"] in plan.comparisons]
    fitted["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": rule.get_blocking_rule("duckdb").blocking_rule_sql, "sql_dialect": "duckdb"}
        for rule in plan.blocking_rules
    ]
    # Scored pairs keep each comparison's level and weight (explain reads them), not the compared
    # values (in identity.records) nor the blocking keys (identity.blocking_keys): with a dozen
    # keys those doubled the width of every prediction and cost a third of the scoring time.
    fitted["retain_matching_columns"] = False
    return fitted
