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
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd  # the UDFs' type hints are read by name (pandas_udf)

from orchestration.identity.standardise import PLACEHOLDER_EMAIL_LOCAL_PARTS, TITLES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

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


def register_name_rules(
    spark: SparkSession, variants: Iterable[tuple[str, str]], use_phonetic: bool
) -> DataFrame:
    """``cdp_names_compatible`` on ``spark``'s session, equal to the DuckDB macro (and the
    ``cdp_first_names_compatible`` and ``cdp_first_names_alike`` it calls): the same rule, null
    where the macro is null.

    The macro asks the variant dictionary (``identity.first_name_variants``) by a correlated
    subquery, which a Spark function cannot; the dictionary (``identity.yml``: hundreds of names, a
    setting, not data) goes to the workers with the function instead, as a map from each member to
    every member of its groups, built by the DuckDB path's own query. Jaro-Winkler and
    Damerau-Levenshtein are rapidfuzz's, equal to DuckDB's (``splink_api.register_similarities``);
    the phonetic keys are ``cdp_phonetic``'s, passed in by the SQL function wrapping the Python one.
    Returns ``identity.first_name_variants`` (``group_name``, ``member``), which the merge reads.
    """
    from pyspark.sql.functions import pandas_udf

    from orchestration.identity.spark.sql import run_duckdb_sql
    from orchestration.identity.standardise import FIRST_NAME_VARIANTS_SQL

    rows = list(variants)
    spark.createDataFrame(rows, "name string, variant string").createOrReplaceTempView("_variants")
    table = run_duckdb_sql(spark, FIRST_NAME_VARIANTS_SQL, {}).checkpoint(eager=True)
    spark.catalog.dropTempView("_variants")
    groups: dict[str, set[str]] = {}
    for group_name, member in table.collect():
        groups.setdefault(group_name, set()).add(member)
    members: dict[str, tuple[str, ...]] = {}
    for group in groups.values():
        for member in group:
            members[member] = tuple(sorted({*members.get(member, ()), *group}))

    # Nested: shipped to the workers by value (they need pandas and rapidfuzz, not this project).
    @pandas_udf("boolean")
    def names_compatible(
        first_l: pd.Series, last_l: pd.Series, first_r: pd.Series, last_r: pd.Series,
        sound_first_l: pd.Series, sound_last_l: pd.Series, sound_first_r: pd.Series, sound_last_r: pd.Series,
    ) -> pd.Series:  # fmt: skip
        import pandas as pd
        from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

        def alike(a: str, b: str) -> bool:
            shortest = min(len(a), len(b))
            return (
                a == b
                or (JaroWinkler.normalized_similarity(a, b) if a and b else 0.0) >= 0.9
                or DamerauLevenshtein.distance(a, b) <= 1
                or a.startswith(b)
                or b.startswith(a)
                or (shortest <= 2 and a[:1] == b[:1])
                or (shortest <= 4 and a[:3] == b[:3])
            )

        def compatible(a, b, sound_a, sound_b) -> bool | None:
            if a is None or b is None:
                return None  # the macro's alike is null, and nothing else holds
            return (
                alike(a, b)
                or (use_phonetic and sound_a is not None and sound_a == sound_b)
                or any(alike(v, b) for v in members.get(a, ()))
                or any(alike(v, a) for v in members.get(b, ()))
            )

        def either(x, y):  # SQL's three-valued or
            return True if x is True or y is True else None if x is None or y is None else False

        def both(x, y):  # SQL's three-valued and
            return False if x is False or y is False else None if x is None or y is None else True

        def value(v):
            return None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v

        out = []
        for fl, ll, fr, lr, sfl, sll, sfr, slr in zip(
            first_l, last_l, first_r, last_r, sound_first_l, sound_last_l, sound_first_r, sound_last_r,
            strict=True,
        ):  # fmt: skip
            fl, ll, fr, lr, sfl, sll, sfr, slr = map(value, (fl, ll, fr, lr, sfl, sll, sfr, slr))
            out.append(
                either(
                    compatible(fl, fr, sfl, sfr),
                    both(compatible(fl, lr, sfl, slr), compatible(ll, fr, sll, sfr)),
                )
            )
        return pd.Series(out, dtype="boolean")

    spark.udf.register("cdp_names_compatible_py", names_compatible)
    spark.sql(
        "CREATE OR REPLACE TEMPORARY FUNCTION cdp_names_compatible("
        "first_l STRING, last_l STRING, first_r STRING, last_r STRING) RETURNS BOOLEAN RETURN "
        "cdp_names_compatible_py(first_l, last_l, first_r, last_r, cdp_phonetic(first_l), "
        "cdp_phonetic(last_l), cdp_phonetic(first_r), cdp_phonetic(last_r))"
    )
    return table
