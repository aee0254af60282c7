"""``cdp bench-guards``: what each guard and conflict rule costs and earns, on every labelled set.

A guard refuses links (precision) and loses true pairs (recall). Whether it earns its recall is a
question for data we did not write, so each variant below changes one setting of ``identity.yml``
and the identity step runs again on each labelled set of a ``cdp bench-identity`` folder (its raw
layer already loaded): the same records, the model trained once per set by the default run and
reused (guards act after scoring), scored against the truth. Defaults are the settings that win
across the sets, development and test alike, not on one (docs/identity.md, "Guards").

Not varied here: the ambiguity limits of shared identifiers (``cluster.AMBIGUOUS_OWNERS``), which
are constants rather than settings; and the match threshold (the KPI range shows what moving it
changes).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.benchmarks import labelled
from orchestration.benchmarks.provenance import code_commit
from orchestration.identity import (
    ResolutionConfig,
    assign_stable_ids,
    evaluate_warehouse,
    load_identity_settings,
    resolve,
)
from orchestration.identity.config import IdentitySettings
from orchestration.settings import data_dir_environment, data_folder


def _conflict(attribute: str, policy: str) -> Callable[[IdentitySettings], dict[str, Any]]:
    return lambda base: {"conflicts": {**base.conflicts, attribute: policy}}


# Each variant: a name and the settings it changes from the configuration in force.
VARIANTS: dict[str, Callable[[IdentitySettings], dict[str, Any]]] = {
    "settings in force": lambda base: {},
    "first-name guard: always": lambda base: {"first_name_guard": "always"},
    "first-name guard: unless same birth date": lambda base: {"first_name_guard": "unless_same_birth_date"},
    "first-name guard: off": lambda base: {"first_name_guard": "off"},
    "birth date conflict: veto": _conflict("birth_date", "veto"),
    "birth date conflict: weighed": _conflict("birth_date", "weighed"),
    "birth date conflict: allowed": _conflict("birth_date", "allowed"),
    "phone conflict: weighed": _conflict("phone", "weighed"),
    "phone conflict: allowed": _conflict("phone", "allowed"),
    "no cluster size flag": lambda base: {"max_cluster_size": 1_000_000},
    "match threshold 0.7": lambda base: {"match_probability": 0.7},
    "match threshold 0.9": lambda base: {"match_probability": 0.9},
}


def run_variant(data_dir: Path, truth: Path, work: Path, identity: IdentitySettings, retrain: bool) -> dict:
    """The identity step alone on a copy of ``data_dir``'s warehouse with ``identity``; scored.

    The model lives in ``work/model.json``: trained by the first variant (``retrain``), reused by
    the others, so they differ by their guard alone."""
    settings = data_folder(data_dir)
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "cdp.duckdb"
    shutil.copy(settings.warehouse_path, copy)
    config = ResolutionConfig(identity=identity, retrain=retrain, trained_model=work / "model.json")
    with data_dir_environment(data_dir):
        con = duckdb.connect(str(copy))
        try:
            result = resolve(con, config, log=lambda _: None, full=True)
            assign_stable_ids(con, "what-if")
        finally:
            con.close()
    evaluation = evaluate_warehouse(copy, truth)
    copy.unlink()
    return {
        **evaluation.model.as_dict(),
        **evaluation.counts.as_dict(),
        "guarded_edges": result.guarded_edges,
        "flagged_clusters": result.flagged_clusters,
    }


def what_if(
    folder: Path,
    datasets: Iterable[str] = (),
    variants: Iterable[str] = (),
    echo: Callable[[str], None] = print,
) -> dict:
    """Every variant on every set of a ``cdp bench-identity`` folder (sets not there yet are
    converted and loaded first); writes ``bench-guards.json`` and ``bench-guards.md``."""
    names = labelled.select(datasets)
    chosen = list(variants) or list(VARIANTS)
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}: choose from {', '.join(VARIANTS)}")
    base = load_identity_settings()
    rows = []
    for name in names:
        data_dir, truth = folder / name / "data", folder / name / "truth" / "identities.csv"
        if not data_folder(data_dir).warehouse_path.exists():
            echo(f"{name}: converting and loading it first (cdp bench-identity)")
            labelled.bench_set(name, folder, pipeline=True, echo=echo)
        for position, variant in enumerate(chosen):
            identity = dataclasses.replace(base, **VARIANTS[variant](base))
            scores = run_variant(data_dir, truth, folder / name / "what-if", identity, retrain=position == 0)
            rows.append({"dataset": name, "split": labelled.SETS[name].split, "variant": variant, **scores})
            echo(
                f"{name:18} {variant:42} P {scores['pairwise_precision']:.4f} "
                f"R {scores['pairwise_recall']:.4f} F1 {scores['pairwise_f1']:.4f}"
            )
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": code_commit(),
        "baseline_variant": chosen[0],
        "rows": rows,
    }
    (folder / "bench-guards.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (folder / "bench-guards.md").write_text(markdown(result) + "\n", encoding="utf-8")
    return result


def markdown(result: dict) -> str:
    """Per variant: pairwise F1 on each set (its change against the first variant), and the mean
    change over the development and the test sets."""
    rows = result["rows"]
    sets = list(dict.fromkeys(r["dataset"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    f1 = {(r["dataset"], r["variant"]): r["pairwise_f1"] for r in rows}
    first = result["baseline_variant"]
    split = {r["dataset"]: r["split"] for r in rows}
    header = ["variant", *sets, "mean ΔF1 dev", "mean ΔF1 test"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant in variants:
        cells = [variant]
        deltas: dict[str, list[float]] = {"dev": [], "test": []}
        for name in sets:
            value = f1.get((name, variant))
            if value is None:
                cells.append("")
                continue
            delta = value - f1[(name, first)]
            deltas[split[name]].append(delta)
            cells.append(f"{value:.4f}" if variant == first else f"{value:.4f} ({delta:+.4f})")
        for part in ("dev", "test"):
            values = deltas[part]
            cells.append(f"{sum(values) / len(values):+.4f}" if values else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
