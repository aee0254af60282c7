"""The standardisation macros of ``identity/standardise.py`` as Spark SQL functions, equal to them
value for value (``tests/test_spark_standardise.py`` compares both on test vectors and on every
distinct raw value of a generated sample).

Spark 4 has SQL user-defined functions (``CREATE TEMPORARY FUNCTION … RETURN``), so each DuckDB
macro is one Spark function of the same name and the same rules. What differs between the two
engines, and how it is kept equal:

- DuckDB's regular expressions are RE2's, Spark's Java's. ``\\s`` is ``[\\t\\n\\f\\r ]`` in RE2 but
  also matches a vertical tab in Java: written out as that class here. ``$`` may match before a
  final line break in Java: full matches (DuckDB's ``similar to``) are anchored with ``\\z``.
  Java writes a back-reference in a replacement as ``$1`` where RE2 writes ``\\1``.
- DuckDB's ``regexp_replace`` replaces the first match unless given ``'g'``, Spark's every match:
  the macros' first-match replacements are all anchored (``^…``, ``….*$``), where both agree.
- ``strip_accents`` has no Spark counterpart: ``cdp_strip_accents`` is a Python function (Unicode
  canonical decomposition, combining marks dropped), registered on the session.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from orchestration.identity.standardise import PLACEHOLDER_EMAIL_LOCAL_PARTS, TITLES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# RE2's \s, written out (Java's \s also takes a vertical tab).
WS = r"[\t\n\f\r ]"
# The standardisation functions, in DuckDB's names (each after those it calls).
FUNCTIONS = (
    "cdp_clean_text", "cdp_std_name", "cdp_phonetic", "cdp_std_email", "cdp_std_phone",
    "cdp_is_mobile", "cdp_std_postcode", "cdp_std_city", "cdp_std_street",
)  # fmt: skip

_PLACEHOLDERS = ", ".join(f"'{p}'" for p in PLACEHOLDER_EMAIL_LOCAL_PARTS)
_TITLES = "|".join(TITLES)

# Spark SQL; r'…' literals keep backslashes as written.
SPARK_FUNCTIONS = f"""
CREATE OR REPLACE TEMPORARY FUNCTION cdp_clean_text(x STRING) RETURNS STRING RETURN
    nullif(trim(regexp_replace(lower(cdp_strip_accents(coalesce(x, ''))), r'{WS}+', ' ')), '');

CREATE OR REPLACE TEMPORARY FUNCTION cdp_std_name(x STRING) RETURNS STRING RETURN
    nullif(regexp_replace(
        regexp_replace(cdp_clean_text(x), r'^({_TITLES})\\.?{WS}+', ''),
        '[^a-z]', ''), '');

CREATE OR REPLACE TEMPORARY FUNCTION cdp_phonetic_sounds(x STRING) RETURNS STRING RETURN
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        replace(replace(replace(replace(x, 'ph', 'f'), 'th', 't'), 'qu', 'k'), 'ck', 'k'),
        'c([aou])', 'k$1'), 'e?au', 'o'), 'y', 'i'), 'z', 's');

CREATE OR REPLACE TEMPORARY FUNCTION cdp_phonetic(x STRING) RETURNS STRING RETURN
    nullif(regexp_replace(
        regexp_replace(
            regexp_replace(regexp_replace(cdp_phonetic_sounds(x), '([^cs])h', '$1'), '^h', ''),
            r'(.)\\1+', '$1'),
        r'[estxd]+\\z', ''), '');

CREATE OR REPLACE TEMPORARY FUNCTION cdp_email_compact(x STRING) RETURNS STRING RETURN
    lower(regexp_replace(coalesce(x, ''), r'{WS}', ''));

CREATE OR REPLACE TEMPORARY FUNCTION cdp_email_local(e STRING) RETURNS STRING RETURN
    CASE WHEN split_part(e, '@', 2) IN ('gmail.com', 'googlemail.com')
         THEN replace(split_part(split_part(e, '@', 1), '+', 1), '.', '')
         ELSE split_part(e, '@', 1) END;

CREATE OR REPLACE TEMPORARY FUNCTION cdp_email_of(e STRING) RETURNS STRING RETURN
    CASE
        WHEN NOT (e RLIKE r'^[^@]+@[^@]+\\.[a-z]+\\z') THEN NULL
        WHEN cdp_email_local(e) IN ({_PLACEHOLDERS}) THEN NULL
        ELSE cdp_email_local(e) || '@'
             || CASE WHEN split_part(e, '@', 2) = 'googlemail.com' THEN 'gmail.com'
                     ELSE split_part(e, '@', 2) END
    END;

CREATE OR REPLACE TEMPORARY FUNCTION cdp_std_email(x STRING) RETURNS STRING RETURN
    cdp_email_of(cdp_email_compact(x));

CREATE OR REPLACE TEMPORARY FUNCTION cdp_phone_national(p STRING) RETURNS STRING RETURN
    CASE
        WHEN p LIKE '+33%' THEN substr(p, 4)
        WHEN p LIKE '0033%' THEN substr(p, 5)
        WHEN p LIKE '33%' AND length(p) = 11 THEN substr(p, 3)
        WHEN p LIKE '0%' AND length(p) = 10 THEN substr(p, 2)
    END;

CREATE OR REPLACE TEMPORARY FUNCTION cdp_phone_of(national STRING) RETURNS STRING RETURN
    CASE
        WHEN national IS NULL OR length(national) <> 9 OR NOT (national RLIKE r'^[1-9][0-9]{{8}}\\z')
            THEN NULL
        WHEN national = repeat(substr(national, 1, 1), 9) OR national = '123456789' THEN NULL
        ELSE '+33' || national
    END;

CREATE OR REPLACE TEMPORARY FUNCTION cdp_std_phone(x STRING) RETURNS STRING RETURN
    cdp_phone_of(cdp_phone_national(
        regexp_replace(replace(coalesce(x, ''), '(0)', ''), '[^0-9+]', '')));

CREATE OR REPLACE TEMPORARY FUNCTION cdp_is_mobile(e164 STRING) RETURNS BOOLEAN RETURN
    e164 RLIKE r'^\\+33[67][0-9]{{8}}\\z';

CREATE OR REPLACE TEMPORARY FUNCTION cdp_std_postcode(x STRING) RETURNS STRING RETURN
    CASE WHEN regexp_replace(coalesce(x, ''), '[^0-9]', '') RLIKE r'^[0-9]{{4,5}}\\z'
         THEN lpad(regexp_replace(x, '[^0-9]', ''), 5, '0') END;

CREATE OR REPLACE TEMPORARY FUNCTION cdp_std_city(x STRING) RETURNS STRING RETURN
    nullif(trim(regexp_replace(regexp_replace(regexp_replace(
        replace(replace(cdp_clean_text(x), '-', ' '), '\\'', ' '),
        r'\\bste\\b', 'sainte'), r'\\bst\\b', 'saint'), r'{WS}+', ' ')), '');

CREATE OR REPLACE TEMPORARY FUNCTION cdp_street_words(x STRING) RETURNS STRING RETURN
    regexp_replace(regexp_replace(
        regexp_replace(
            cdp_clean_text(x),
            r',?{WS}*(appt|apt|appartement|bat|bât|batiment|residence|\\d+e etage|etage)\\b.*$', ''),
        r'[,\\.]', ' '), r'{WS}+', ' ');

CREATE OR REPLACE TEMPORARY FUNCTION cdp_std_street(x STRING) RETURNS STRING RETURN
    nullif(trim(
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        regexp_replace(regexp_replace(' ' || cdp_street_words(x) || ' ',
            ' av ', ' avenue '), ' bd | boul | bld ', ' boulevard '), ' r ', ' rue '),
            ' chem ', ' chemin '), ' all ', ' allee '), ' pl ', ' place '),
            ' imp ', ' impasse '), ' rte ', ' route ')), '');
"""


def register(spark: SparkSession) -> None:
    """Create the standardisation functions on ``spark``'s session (temporary: per session)."""
    from pyspark.sql.types import StringType

    # Defined here, not at module level: Spark ships a nested function to its Python workers by
    # value, so a worker needs the standard library only, not this project (nor DuckDB).
    def strip_accents(text: str | None) -> str | None:
        """DuckDB's ``strip_accents``: canonical decomposition, combining marks dropped."""
        if text is None:
            return None
        return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))

    spark.udf.register("cdp_strip_accents", strip_accents, StringType())
    for statement in SPARK_FUNCTIONS.split(";"):
        if statement.strip():
            spark.sql(statement)
