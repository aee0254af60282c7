"""The Splink model: what we compare and how, how we block, how we train.

Read this module as a table:

| attribute             | comparison (splink.comparison_library)                     | TF  |
|-----------------------|------------------------------------------------------------|-----|
| first + last name     | ForenameSurnameComparison (exact, swapped, Jaro-Winkler)   | yes |
| e-mail                | exact, one edit (typo) with the same digits                | yes |
| phone (E.164)         | exact, one edit (typo)                                     | yes |
| birth date            | exact                                                      |     |
| postcode              | exact                                                      | yes |
| street (no number)    | Jaro-Winkler 0.95 / 0.85                                   |     |

Blocking rules keep the pairs compared linear in the number of records: each rule joins on a
value that few people share (an e-mail, a phone, a full name in either order, a surname within a
postcode, a street within a postcode). Names and places are not evenly spread, and a block of n
records costs n²/2 comparisons, so the name and place rules join on *capped* keys
(``BLOCKING_KEYS``, built in ``resolve._splink_inputs``): when more than ``max_block_records``
records share a key, the key is refined with one more attribute (a postcode, a birth date, an
initial, a street), and when even the most refined key is that common, the rule leaves those
records to the other rules. At 1 million customers a few hundred records share "Marie Martin"
or a surname in a city's postcode; without the cap those blocks alone make hundreds of millions
of pairs.
"""

from __future__ import annotations

import json
from pathlib import Path

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

MODEL_PATH = Path(__file__).resolve().parent / "model.json"

# Capped blocking keys: name → SQL expressions from the coarsest to the most refined; a record
# gets the first one that at most ``max_block_records`` records share, or none.
BLOCKING_KEYS = {
    # Both names, either order (catches swapped first and last names).
    "block_name": (
        "least(first_name, last_name) || '|' || greatest(first_name, last_name)",
        "least(first_name, last_name) || '|' || greatest(first_name, last_name) || '|' || postcode",
        "least(first_name, last_name) || '|' || greatest(first_name, last_name) || '|' || birth_date",
    ),
    "block_surname_place": (
        "last_name || '|' || postcode",
        "last_name || '|' || postcode || '|' || left(first_name, 1)",
        "last_name || '|' || postcode || '|' || street",
    ),
    "block_street_place": (
        "street || '|' || postcode",
        "street || '|' || postcode || '|' || last_name",
    ),
}

PREDICTION_BLOCKING_RULES = [block_on("email"), block_on("phone"), *(block_on(k) for k in BLOCKING_KEYS)]

# Rules used to estimate the prior (probability that two random records match); they admit very
# few false positives, and catch roughly this share of true matches.
PRIOR_RULES = [block_on("email", "last_name"), block_on("phone", "last_name")]
PRIOR_RECALL = 0.6

# One EM session per rule: each rule leaves the other comparisons free to be estimated.
TRAINING_RULES = [block_on("email"), block_on("phone"), block_on("first_name", "last_name", "postcode")]

# An e-mail typo keeps the digits: "bdubois59@" and "bdubois57@" are one edit apart but, at 100k
# customers, two namesakes 504 times out of 802 such pairs; with equal digits, 59 out of 1,581.
SAME_EMAIL_DIGITS = cll.CustomLevel(
    "regexp_replace(email_l, '[^0-9]', '', 'g') = regexp_replace(email_r, '[^0-9]', '', 'g')"
)


def settings(link_type: str = "link_and_dedupe") -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name", "last_name", forename_surname_concat_col_name="full_name"
            ),
            cl.CustomComparison(
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
            ),
            cl.DamerauLevenshteinAtThresholds("phone", [1]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("birth_date"),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street", [0.95, 0.85]),
        ],
        blocking_rules_to_generate_predictions=PREDICTION_BLOCKING_RULES,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


def load_saved_settings(path: Path | None = None) -> dict | None:
    """The trained model saved in the repository, or None if there is none yet.

    Its m and u probabilities are used as saved; its blocking rules are this module's, so a change
    of blocking (which decides what is compared, not how evidence weighs) needs no retraining.
    """
    path = path or MODEL_PATH
    if not path.exists():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    saved["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": rule.get_blocking_rule("duckdb").blocking_rule_sql, "sql_dialect": "duckdb"}
        for rule in PREDICTION_BLOCKING_RULES
    ]
    return saved
