"""The Splink model: what we compare and how, how we block, how we train.

Read this module as a table:

| attribute             | comparison (splink.comparison_library)                     | TF  |
|-----------------------|------------------------------------------------------------|-----|
| first + last name     | ForenameSurnameComparison (exact, swapped, Jaro-Winkler)   | yes |
| e-mail                | exact, one edit (typo)                                     | yes |
| phone (E.164)         | exact, one edit (typo)                                     | yes |
| birth date            | exact                                                      |     |
| postcode              | exact                                                      | yes |
| street (no number)    | Jaro-Winkler 0.95 / 0.85                                   |     |

Blocking rules keep the pairs compared roughly linear in the number of records: each rule joins
on a value that few people share (an e-mail, a phone, a full name, a surname within a postcode,
a street within a postcode); common names are still bounded by the postcode or the first name.
"""

from __future__ import annotations

import json
from pathlib import Path

import splink.comparison_library as cl
from splink import SettingsCreator, block_on

MODEL_PATH = Path(__file__).resolve().parent / "model.json"
SPLINK_COLUMNS = (
    "unique_id", "first_name", "last_name", "full_name", "email", "phone", "birth_date",
    "postcode", "street",
)  # fmt: skip

PREDICTION_BLOCKING_RULES = [
    block_on("email"),
    block_on("phone"),
    block_on("first_name", "last_name"),
    block_on("last_name", "postcode"),
    block_on("street", "postcode"),
    "l.first_name = r.last_name and l.last_name = r.first_name",
]

# Rules used to estimate the prior (probability that two random records match); they admit very
# few false positives, and catch roughly this share of true matches.
PRIOR_RULES = [block_on("email", "last_name"), block_on("phone", "last_name")]
PRIOR_RECALL = 0.6

# One EM session per rule: each rule leaves the other comparisons free to be estimated.
TRAINING_RULES = [block_on("email"), block_on("phone"), block_on("first_name", "last_name", "postcode")]


def settings(link_type: str = "link_and_dedupe") -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name", "last_name", forename_surname_concat_col_name="full_name"
            ),
            cl.DamerauLevenshteinAtThresholds("email", [1]).configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("phone", [1]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("birth_date"),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street", [0.95, 0.85]),
        ],
        blocking_rules_to_generate_predictions=PREDICTION_BLOCKING_RULES,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


def load_saved_settings(path: Path = MODEL_PATH) -> dict | None:
    """The trained model saved in the repository, or None if there is none yet."""
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
