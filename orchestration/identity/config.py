"""The identity resolution settings a user changes to fit their data, read from ``identity.yml``.

One declarative file (``orchestration/identity/identity.yml``, or the file ``CDP_IDENTITY_CONFIG``
points to) holds thresholds, what a difference of birth date, phone, card or account means, and the
first-name variants. It is validated on load: an unknown key, a missing file or a bad value raises
``IdentityConfigError`` naming the file and the key, before any work starts.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestration.settings import get_settings

SHIPPED_CONFIG = Path(__file__).resolve().parent / "identity.yml"
CONFLICT_POLICIES = ("veto", "weighed", "allowed")
# When the first-name guard refuses a scored pair whose first names cannot be one person's:
# always (even the same birth date), unless both records give the same birth date, or never.
FIRST_NAME_GUARDS = ("always", "unless_same_birth_date", "off")
# Attributes whose differences merging can act on (merge.py), in this order.
CONFLICT_ATTRIBUTES = ("birth_date", "phone", "loyalty_card", "account_id")
# Scored pairs are kept from this probability on (or from a lower threshold or looser KPI range):
# below it, a pair explains why two records were kept apart.
EXPLAIN_MIN_PROBABILITY = 0.5
# The KPI range's thresholds when identity.yml has no ``kpi_range`` section (files written before it).
DEFAULT_KPI_RANGE = {"looser_match_probability": 0.2, "stricter_match_probability": 0.9}


class IdentityConfigError(ValueError):
    """A bad identity configuration: the message names the file and the key."""


@dataclass(frozen=True)
class IdentitySettings:
    source: Path
    match_probability: float
    max_cluster_size: int
    pairs_per_record: float
    min_field_share: float
    conflicts: dict[str, str]
    first_name_variants: tuple[tuple[str, str], ...]
    phonetic_first_names: bool
    first_name_guard: str
    prior_recall: float
    auto_train_min_records: int
    seed: int
    u_max_pairs: int
    em_max_pairs: int
    # The match probabilities the headline KPIs are also computed at (``kpi_range``): a reader
    # sees how much a figure depends on where the threshold sits.
    range_looser: float = 0.2
    range_stricter: float = 0.9

    @property
    def range_thresholds(self) -> dict[str, float]:
        """The KPI range's match probabilities, each end on its side of the match threshold (an end
        the other side of it, after the threshold was moved, is taken at the threshold)."""
        return {
            "stricter": max(self.range_stricter, self.match_probability),
            "published": self.match_probability,
            "looser": min(self.range_looser, self.match_probability),
        }

    @property
    def scored_floor(self) -> float:
        """The lowest match probability of a pair kept in ``identity.scored_edges``: what the
        threshold, the looser clustering of the KPI range and the explanations need (pairs below
        the threshold explain why records were kept apart)."""
        return min(EXPLAIN_MIN_PROBABILITY, self.match_probability, self.range_looser)


def config_path() -> Path:
    """The configuration in force: ``CDP_IDENTITY_CONFIG`` if set, else the shipped file."""
    configured = get_settings().identity_config
    return Path(configured).expanduser().resolve() if configured else SHIPPED_CONFIG


def _section(raw: dict, name: str, keys: dict[str, type], path: Path) -> dict[str, Any]:
    section = raw.get(name) or {}
    if not isinstance(section, dict):
        raise IdentityConfigError(f"{path}: '{name}' must be a mapping")
    unknown = set(section) - set(keys)
    if name == "matching" and "max_block_records" in unknown:
        raise IdentityConfigError(
            f"{path}: 'matching.max_block_records' was replaced by 'matching.pairs_per_record' (the "
            "pairs blocking may compare per named record; blocks are refined to fit): see docs/identity.md"
        )
    if unknown:
        raise IdentityConfigError(f"{path}: unknown key(s) {sorted(f'{name}.{k}' for k in unknown)}")
    values = {}
    for key, kind in keys.items():
        if key not in section:
            raise IdentityConfigError(f"{path}: missing key '{name}.{key}'")
        value = section[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise IdentityConfigError(f"{path}: '{name}.{key}' must be {kind.__name__}, got {value!r}")
        values[key] = value
    return values


def _check_range(path: Path, key: str, value: float, low: float, high: float | None = None) -> None:
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise IdentityConfigError(f"{path}: '{key}' must be {bounds}, got {value}")


def read_variants(path: Path) -> tuple[tuple[str, str], ...]:
    """The ``name,variant`` rows of a first-name variants CSV."""
    if not path.exists():
        raise IdentityConfigError(f"first_names.variants_file: no file at {path}")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"name", "variant"} <= set(reader.fieldnames):
            raise IdentityConfigError(f"{path}: needs columns 'name' and 'variant'")
        rows = []
        for line, row in enumerate(reader, start=2):
            name, variant = (row.get("name") or "").strip(), (row.get("variant") or "").strip()
            if not name or not variant:
                raise IdentityConfigError(f"{path}, line {line}: empty name or variant")
            rows.append((name, variant))
    return tuple(rows)


def load_identity_settings(path: Path | None = None) -> IdentitySettings:
    """Read and validate the identity configuration."""
    path = path or config_path()
    if not path.exists():
        raise IdentityConfigError(f"identity configuration not found: {path} (CDP_IDENTITY_CONFIG)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise IdentityConfigError(f"{path}: not valid YAML: {e}") from e
    sections = {"matching", "conflicts", "first_names", "prior", "training", "kpi_range"}
    unknown = set(raw) - sections
    if unknown:
        raise IdentityConfigError(f"{path}: unknown section(s) {sorted(unknown)}")
    matching = _section(
        raw,
        "matching",
        {
            "match_probability": float,
            "max_cluster_size": int,
            "pairs_per_record": float,
            "min_field_share": float,
        },
        path,
    )
    conflicts = _section(raw, "conflicts", dict.fromkeys(CONFLICT_ATTRIBUTES, str), path)
    for attribute, policy in conflicts.items():
        if policy not in CONFLICT_POLICIES:
            raise IdentityConfigError(
                f"{path}: 'conflicts.{attribute}' must be one of {list(CONFLICT_POLICIES)}, got {policy!r}"
            )
    names = _section(raw, "first_names", {"variants_file": str, "phonetic": bool, "guard": str}, path)
    if names["guard"] not in FIRST_NAME_GUARDS:
        raise IdentityConfigError(
            f"{path}: 'first_names.guard' must be one of {list(FIRST_NAME_GUARDS)}, got {names['guard']!r}"
        )
    prior = _section(raw, "prior", {"recall": float}, path)
    training = _section(
        raw,
        "training",
        {"auto_train_min_records": int, "seed": int, "u_max_pairs": int, "em_max_pairs": int},
        path,
    )
    kpi_range = (
        _section(raw, "kpi_range", dict.fromkeys(DEFAULT_KPI_RANGE, float), path)
        if "kpi_range" in raw
        else dict(DEFAULT_KPI_RANGE)
    )
    _check_range(path, "matching.match_probability", matching["match_probability"], 0.0, 1.0)
    _check_range(
        path, "kpi_range.stricter_match_probability", kpi_range["stricter_match_probability"], 0.0, 1.0
    )  # fmt: skip
    _check_range(
        path, "kpi_range.looser_match_probability", kpi_range["looser_match_probability"],
        0.0, kpi_range["stricter_match_probability"],
    )  # fmt: skip
    _check_range(path, "matching.max_cluster_size", matching["max_cluster_size"], 2)
    _check_range(path, "matching.pairs_per_record", matching["pairs_per_record"], 1.0)
    _check_range(path, "matching.min_field_share", matching["min_field_share"], 0.0, 1.0)
    _check_range(path, "prior.recall", prior["recall"], 0.01, 1.0)
    _check_range(path, "training.auto_train_min_records", training["auto_train_min_records"], 0)
    _check_range(path, "training.u_max_pairs", training["u_max_pairs"], 1000)
    _check_range(path, "training.em_max_pairs", training["em_max_pairs"], 1000)
    return IdentitySettings(
        source=path,
        match_probability=matching["match_probability"],
        max_cluster_size=matching["max_cluster_size"],
        pairs_per_record=matching["pairs_per_record"],
        min_field_share=matching["min_field_share"],
        conflicts=conflicts,
        first_name_variants=read_variants((path.parent / names["variants_file"]).resolve()),
        phonetic_first_names=names["phonetic"],
        first_name_guard=names["guard"],
        prior_recall=prior["recall"],
        auto_train_min_records=training["auto_train_min_records"],
        seed=training["seed"],
        u_max_pairs=training["u_max_pairs"],
        em_max_pairs=training["em_max_pairs"],
        range_looser=kpi_range["looser_match_probability"],
        range_stricter=kpi_range["stricter_match_probability"],
    )
