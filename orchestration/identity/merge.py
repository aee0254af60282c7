"""Constrained merging: probabilistic links join clusters only when the clusters do not contradict.

Splink scores *pairs of records*. Taking the connected components of every pair above a threshold
chains them: a record with a common name and no birth date can link two namesakes who each have a
known, different birth date, and the two become one customer. So probabilistic links are applied
one at a time, strongest first, to clusters (starting from the deterministic ones), and a link is
refused when the two clusters it would join hold different values of an attribute a person has
only one of. Two clusters conflict when both know such an attribute and no value of one equals (or
is one typo from) a value of the other:

| attribute     | conflict                  |
|---------------|---------------------------|
| birth_date    | different birth dates     |
| phone         | different mobile numbers  |
| loyalty_card  | different loyalty cards   |
| account_id    | different web accounts    |

Deterministic links are never refused: an exact identifier outranks a model. A person who really
has two phones or two cards stays split unless something exact joins the halves; that is the
chosen side of the trade-off (a wrong merge mixes two people's data, a missed one only loses
history). This is a graph walk with state, so it runs in Python over compact lists fetched from
DuckDB (one row per cluster and per candidate link), not per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Attributes whose values must agree (exactly, or up to one typo) for two clusters to merge.
FUZZY_ATTRIBUTES = ("birth_date", "phone")
EXACT_ATTRIBUTES = ("loyalty_card", "account_id")
CONFLICT_ATTRIBUTES = FUZZY_ATTRIBUTES + EXACT_ATTRIBUTES


def one_typo_apart(a: str, b: str) -> bool:
    """Equal, or equal but for one substituted character or two adjacent swapped ones."""
    if a == b:
        return True
    if len(a) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def _agree(attribute: str, left: set[str], right: set[str]) -> bool:
    if not left or not right or left & right:
        return True
    if attribute in FUZZY_ATTRIBUTES:
        return any(one_typo_apart(a, b) for a in left for b in right)
    return False


def merge_clusters(
    attributes: Iterable[tuple[str, Sequence[Sequence[str] | None]]],
    links: Iterable[tuple[str, str]],
) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Greedy merge of clusters along ``links``, strongest first, refusing contradictory merges.

    ``attributes``: per cluster id, its values of each of ``CONFLICT_ATTRIBUTES`` (in that order).
    ``links``: pairs of cluster ids, already sorted from the strongest to the weakest evidence.
    Returns ``{cluster_id: merged_cluster_id}`` for every cluster that was merged into another,
    and the links refused, as ``(position in links, attribute that contradicted)``.
    """
    parent: dict[str, str] = {}
    values: dict[str, list[set[str]]] = {}
    for cluster_id, per_attribute in attributes:
        parent[cluster_id] = cluster_id
        values[cluster_id] = [set(v or ()) for v in per_attribute]

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    refused: list[tuple[int, str]] = []
    for position, (left, right) in enumerate(links):
        a, b = find(left), find(right)
        if a == b:
            continue
        conflict = next(
            (
                name
                for name, va, vb in zip(CONFLICT_ATTRIBUTES, values[a], values[b], strict=True)
                if not _agree(name, va, vb)
            ),
            None,
        )
        if conflict:
            refused.append((position, conflict))
            continue
        # Union by size of value sets keeps the walk near-linear; the surviving label is irrelevant
        # (stable ids are assigned later).
        if sum(map(len, values[a])) < sum(map(len, values[b])):
            a, b = b, a
        parent[b] = a
        for mine, theirs in zip(values[a], values.pop(b), strict=True):
            mine |= theirs
    return {c: find(c) for c in parent if find(c) != c}, refused
