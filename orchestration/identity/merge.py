"""Constrained merging: probabilistic links join clusters only when the clusters do not contradict.

Splink scores *pairs of records*. Taking the connected components of every pair above a threshold
chains them: a record with a common name and no birth date can link two namesakes who each have a
known, different birth date, and the two become one customer. So probabilistic links are applied
one at a time, strongest first, to clusters (starting from the deterministic ones), and a link may
be refused when the two clusters it would join contradict each other. Two clusters differ on an
attribute when both know it and no value of one equals (or is one typo from) a value of the other.
What a difference means is configured per attribute (``identity.yml``, ``conflicts``):

| policy    | a difference …                                                                        |
|-----------|---------------------------------------------------------------------------------------|
| `veto`    | always refuses the link (one value per person, strictly)                              |
| `weighed` | refuses the link only when the link's own two records do not both carry the attribute: |
|           | Splink scored the pair knowing the difference (its weight is strongly negative), but a |
|           | chain through a record that lacks it was never weighed against it                      |
| `allowed` | never refuses (a person may hold several web accounts or loyalty cards)               |

Birth dates also agree when day and month are swapped. First names are a constraint of their own: a
link from a record with **no first name** is refused when both clusters know first names and none
of one is compatible with one of the other (``names.FirstNameFacts``): an unknown first name never
bridges two people. (Links between two named records already passed the pair guard on names.)

Deterministic links are never refused: an exact identifier outranks a model. A steward's
cannot-link (``decisions``) outranks everything: clusters holding the two sides of one are never
joined, whatever the link. This is a graph walk
with state, so it runs in Python over compact lists fetched from DuckDB (one row per cluster and
per candidate link), not per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from orchestration.identity.config import CONFLICT_ATTRIBUTES
from orchestration.identity.names import FirstNameFacts

# Attributes whose values agree up to one typo; the others must be equal.
FUZZY_ATTRIBUTES = ("birth_date", "phone")
# Per cluster, values of each of CONFLICT_ATTRIBUTES, then first names.
CLUSTER_FIELDS = (*CONFLICT_ATTRIBUTES, "first_name")
DEFAULT_POLICY = {"birth_date": "veto", "phone": "veto", "loyalty_card": "veto", "account_id": "veto"}


@dataclass(frozen=True)
class Link:
    """A candidate link between two clusters, with what its own two records both carry."""

    left: str
    right: str
    # Attributes both records of the link carry (their difference, if any, was scored).
    weighed: frozenset[str] = frozenset()
    # One of the link's two records has no first name.
    unnamed_end: bool = False


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


def _day_month_swapped(a: str, b: str) -> bool:
    """``YYYY-MM-DD`` dates equal once day and month are swapped (a US/EU format mix-up)."""
    return len(a) == len(b) == 10 and a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]


def _agree(attribute: str, left: set[str], right: set[str]) -> bool:
    if not left or not right or left & right:
        return True
    if attribute in FUZZY_ATTRIBUTES:
        return any(
            one_typo_apart(a, b) or (attribute == "birth_date" and _day_month_swapped(a, b))
            for a in left
            for b in right
        )
    return False


def merge_clusters(
    attributes: Iterable[tuple[str, Sequence[Sequence[str] | None]]],
    links: Iterable[Link | tuple[str, str]],
    policy: Mapping[str, str] | None = None,
    first_names: FirstNameFacts | None = None,
    apart: Mapping[str, Iterable[int]] | None = None,
) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Greedy merge of clusters along ``links``, strongest first, refusing contradictory merges.

    ``attributes``: per cluster id, its values of each of ``CONFLICT_ATTRIBUTES`` then (optionally)
    its first names. ``links``: already sorted from the strongest to the weakest evidence.
    ``policy``: attribute → veto / weighed / allowed (default: veto for all). ``first_names``: the
    facts to compare first names with (None: first names are not checked). ``apart``: per cluster
    id, the steward cannot-links it holds a side of, as tokens (+n for side a of decision Dn, -n
    for side b): two clusters holding opposite tokens are never joined.
    Returns ``{cluster_id: merged_cluster_id}`` for every cluster that was merged into another,
    and the links refused, as ``(position in links, what contradicted)``.
    """
    policy = {**DEFAULT_POLICY, **(policy or {})}
    checked = [(i, a) for i, a in enumerate(CONFLICT_ATTRIBUTES) if policy[a] != "allowed"]
    parent: dict[str, str] = {}
    values: dict[str, list[set[str]]] = {}
    for cluster_id, per_attribute in attributes:
        parent[cluster_id] = cluster_id
        sets = [set(v or ()) for v in per_attribute]
        values[cluster_id] = sets + [set()] * (len(CLUSTER_FIELDS) - len(sets))
    tokens: dict[str, set[int]] = {c: set(t) for c, t in (apart or {}).items() if c in parent}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def conflict(link: Link, a: str, b: str) -> str | None:
        ta, tb = tokens.get(a), tokens.get(b)
        if ta and tb:
            opposed = sorted(abs(t) for t in ta if -t in tb)
            if opposed:
                return f"steward cannot-link D{opposed[0]}"
        va, vb = values[a], values[b]
        for i, name in checked:
            if policy[name] == "weighed" and name in link.weighed:
                continue
            if not _agree(name, va[i], vb[i]):
                return name
        names_a, names_b = va[-1], vb[-1]
        if (
            first_names is not None
            and link.unnamed_end
            and names_a
            and names_b
            and not first_names.any_compatible(names_a, names_b)
        ):
            return "first name (unknown on one record)"
        return None

    refused: list[tuple[int, str]] = []
    for position, item in enumerate(links):
        link = item if isinstance(item, Link) else Link(*item)
        a, b = find(link.left), find(link.right)
        if a == b:
            continue
        contradiction = conflict(link, a, b)
        if contradiction:
            refused.append((position, contradiction))
            continue
        # Union by size of value sets keeps the walk near-linear; the surviving label is irrelevant
        # (stable ids are assigned later).
        if sum(map(len, values[a])) < sum(map(len, values[b])):
            a, b = b, a
        parent[b] = a
        for mine, theirs in zip(values[a], values.pop(b), strict=True):
            mine |= theirs
        if b in tokens:
            tokens.setdefault(a, set()).update(tokens.pop(b))
    return {c: find(c) for c in parent if find(c) != c}, refused


class PartTooLarge(ValueError):
    """A connected part of the link graph holds more clusters than one worker is allowed to walk."""

    def __init__(self, part: str, size: int, limit: int) -> None:
        super().__init__(
            f"the part of cluster {part} holds {size:,} clusters, more than the {limit:,} one worker "
            "may walk: a value shared by very many records links them (look at the largest parts' "
            "shared identifiers), or raise the limit"
        )


def link_parts(cluster_ids: Iterable[str], links: Sequence[Link | tuple[str, str]]) -> dict[str, str]:
    """The connected part of each cluster in the graph of ``links`` (every link, refused or not),
    labelled by the part's smallest cluster id."""
    parent = {c: c for c in cluster_ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for item in links:
        left, right = (item.left, item.right) if isinstance(item, Link) else item
        a, b = find(left), find(right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {c: find(c) for c in parent}


def merge_by_part(
    attributes: Iterable[tuple[str, Sequence[Sequence[str] | None]]],
    links: Sequence[Link | tuple[str, str]],
    policy: Mapping[str, str] | None = None,
    first_names: FirstNameFacts | None = None,
    apart: Mapping[str, Iterable[int]] | None = None,
    max_part_clusters: int | None = None,
) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """``merge_clusters``, one connected part of the link graph at a time: the same merges, the same
    refusals (positions in ``links``) and the same labels. What a Spark run does per part
    (``groupBy(part).applyInPandas``), so that no worker, and no driver, holds the whole walk.

    Why it is exact: the walk's decision on a link reads only the state of the two clusters it
    joins (their roots' value sets and cannot-link tokens, ``find``), and that state changes only
    when a link between two clusters of the same part is taken. A part's clusters are therefore in
    the same state before each of its links whether the walk also visits other parts' links in
    between or not; walking each part's links in their global order (a subsequence of ``links``)
    takes the same decisions. Union by size compares the two roots' value sets, which are the
    part's own, so the surviving labels are the same too.

    ``max_part_clusters``: a part holding more clusters raises ``PartTooLarge`` (a clear error
    where a worker would run out of memory on one skewed part).
    """
    attributes = list(attributes)
    part_of = link_parts((c for c, _ in attributes), links)
    members: dict[str, list[int]] = {}
    for position, item in enumerate(links):
        left = item.left if isinstance(item, Link) else item[0]
        members.setdefault(part_of[left], []).append(position)
    by_part: dict[str, list[tuple[str, Sequence[Sequence[str] | None]]]] = {}
    for cluster_id, values in attributes:
        by_part.setdefault(part_of[cluster_id], []).append((cluster_id, values))
    if max_part_clusters is not None:
        largest = max(by_part.items(), key=lambda kv: len(kv[1]), default=None)
        if largest is not None and len(largest[1]) > max_part_clusters:
            raise PartTooLarge(largest[0], len(largest[1]), max_part_clusters)
    merged: dict[str, str] = {}
    refused: list[tuple[int, str]] = []
    for part, positions in members.items():
        part_merged, part_refused = merge_clusters(
            by_part[part], [links[p] for p in positions], policy, first_names, apart
        )
        merged.update(part_merged)
        refused += [(positions[local], conflict) for local, conflict in part_refused]
    return merged, sorted(refused)
