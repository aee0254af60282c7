"""First-name compatibility for clusters, in Python: the same rule as the SQL macros.

Pairs of records are checked in SQL (``cdp_first_names_compatible`` in ``standardise.py``). Merging
clusters is a walk in Python (``merge.py``) that must ask the same question of two *sets* of first
names as clusters grow, which SQL cannot precompute. So the rule ``cdp_first_names_alike`` is
written here a second time; ``tests/test_identity_names.py`` checks on thousands of name pairs that
the two agree. The phonetic key and the variant groups are not re-implemented: they are read from
DuckDB (``first_name_facts``), so only the string similarity lives in two places.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import duckdb


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity (prefix scale 0.1, at most 4 characters), as DuckDB computes it."""
    if a == b:
        return 1.0
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    window = max(max(la, lb) // 2 - 1, 0)
    matched_b = [False] * lb
    matches_a = []
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(lb, i + window + 1)):
            if not matched_b[j] and b[j] == ch:
                matched_b[j] = True
                matches_a.append(ch)
                break
    m = len(matches_a)
    if not m:
        return 0.0
    matches_b = [b[j] for j in range(lb) if matched_b[j]]
    transpositions = sum(x != y for x, y in zip(matches_a, matches_b, strict=True)) / 2
    jaro = (m / la + m / lb + (m - transpositions) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro) if jaro > 0.7 else jaro


def within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance at most 1: one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


@lru_cache(maxsize=1_000_000)
def first_names_alike(a: str, b: str) -> bool:
    """``cdp_first_names_alike``: equal, one typo apart, JW ≥ 0.9, a prefix, initials, short form."""
    return (
        a == b
        or within_one_edit(a, b)
        or a.startswith(b)
        or b.startswith(a)
        or (min(len(a), len(b)) <= 2 and a[:1] == b[:1])
        or (min(len(a), len(b)) <= 4 and a[:3] == b[:3])
        or jaro_winkler(a, b) >= 0.9
    )


@dataclass
class FirstNameFacts:
    """What SQL knows of each first name: its phonetic key and the members of its variant groups."""

    phonetic: dict[str, str | None] = field(default_factory=dict)
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    use_phonetic: bool = True

    def compatible(self, a: str, b: str) -> bool:
        """``cdp_first_names_compatible`` for two first names."""
        if first_names_alike(a, b):
            return True
        if self.use_phonetic:
            pa, pb = self.phonetic.get(a), self.phonetic.get(b)
            if pa is not None and pa == pb:
                return True
        return any(first_names_alike(v, b) for v in self.variants.get(a, ())) or any(
            first_names_alike(v, a) for v in self.variants.get(b, ())
        )

    def any_compatible(self, left: Iterable[str], right: Iterable[str]) -> bool:
        right = tuple(right)
        return any(self.compatible(a, b) for a in left for b in right)


def first_name_facts_sql(names_sql: str) -> str:
    """Per first name of the relation ``names_sql(first_name)``: its phonetic key and the other
    members of its variant groups (``identity.first_name_variants``); both engines run it."""
    return f"""
        with names as (select distinct first_name from ({names_sql}) where first_name is not null)
        select n.first_name, cdp_phonetic(n.first_name),
               list(distinct y.member) filter (where y.member is not null and y.member <> n.first_name)
        from names n
        left join identity.first_name_variants x on x.member = n.first_name
        left join identity.first_name_variants y on y.group_name = x.group_name
        group by n.first_name"""


def first_name_facts(con: duckdb.DuckDBPyConnection, names_sql: str, use_phonetic: bool) -> FirstNameFacts:
    """Facts for every first name of the relation ``names_sql(first_name)``.

    Needs the standardisation macros and ``identity.first_name_variants`` on ``con``.
    """
    return facts_from_rows(con.execute(first_name_facts_sql(names_sql)).fetchall(), use_phonetic)


def facts_from_rows(rows: Iterable[tuple], use_phonetic: bool) -> FirstNameFacts:
    """``FirstNameFacts`` from ``first_name_facts_sql``'s rows."""
    rows = list(rows)
    return FirstNameFacts(
        phonetic={name: key for name, key, _ in rows},
        variants={name: tuple(v) for name, _, v in rows if v},
        use_phonetic=use_phonetic,
    )
