"""Fit the Splink model to the warehouse's own records, and write a report a data engineer can judge.

The shipped ``model.json`` was trained on generated French data; a retailer's records decide m and
u for their own data. Training, on the fields the data populates (``model.ModelPlan``):

1. the prior from the first supported set of deterministic rules (``estimate_prior``);
2. u by random sampling of record pairs (``training.u_max_pairs``, seeded: reproducible);
3. m by one EM session per supported training rule; a rule whose block would exceed
   ``training.em_max_pairs`` pairs is run on a sample of records (Splink's ``max_pairs``). EM
   iterates without term-frequency adjustments (Splink's ``estimate_without_term_frequencies``):
   each iteration then reads the counts of agreement patterns instead of every pair, and m is the
   same to the clusters (measured in docs/identity.md, Training). A session that cannot run (no
   pairs, no convergence) is skipped and said; when none runs, training fails with
   ``TrainingError`` and the caller falls back to the shipped model.

The model is written to ``CDP_DATA_DIR/identity/model.json`` (never into the repository) and, from
then on, takes precedence over the shipped one. The report goes to ``serving/identity/``: Splink's
own match-weights and m/u charts as self-contained HTML (the chart libraries are inlined, nothing
is fetched), the comparisons per blocking rule, and the parameter table (``parameters.csv`` and in
``index.html``).
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from splink import Linker, block_on

from orchestration.identity import model
from orchestration.identity.config import IdentitySettings
from orchestration.lib.atomic import write_text_atomically


class TrainingError(RuntimeError):
    """No EM session could run: the model cannot be fitted to these records."""


@dataclass
class TrainingReport:
    prior: str
    em_sessions: dict[str, str] = field(default_factory=dict)
    model_path: Path | None = None


# The named records with their blocking keys (splink_inputs.build_inputs): what pairs are counted on.
RECORDS = "splink_keyed"


# A query of one value on the engine the records are on: DuckDB's SQL, run there (``on_duckdb``)
# or carried to Spark (``spark/resolve.py``). Training needs only counts of the records' keys.
ValueOf = Callable[[str], object]


def on_duckdb(con: duckdb.DuckDBPyConnection) -> ValueOf:
    """The value of a query on DuckDB connection ``con``."""
    return lambda sql: con.execute(sql).fetchall()[0][0]


def count_pairs(value_of: ValueOf, field_sets: list[tuple[str, ...]]) -> list[int]:
    """Pairs of named records each rule (records equal on all its fields) compares on its own.

    Counted from key frequencies (n records sharing a key make n(n-1)/2 pairs), without forming
    the pairs: Splink's own count forms them, which at 100k customers cost seconds per rule.
    """
    counts = []
    for fields in field_sets:
        key = ", ".join(fields)
        not_null = " and ".join(f"{f} is not null" for f in fields)
        counts.append(
            int(
                value_of(
                    f"select coalesce(sum(n * (n - 1) / 2), 0)::bigint from "
                    f"(select count(*) as n from {RECORDS} where {not_null} group by {key})"
                )
            )
        )
    return counts


def estimate_prior(
    value_of: ValueOf,
    linker: Linker,
    plan: model.ModelPlan,
    recall: float,
    saved_prior: float | None,
    log: Callable[[str], None],
) -> str:
    """Estimate the prior from the first rule set the data supports that finds pairs.

    Splink estimates a prior of 0 when its rules find no pair, and ``predict`` then fails on
    log2(0); so rule sets are tried in order (``model.PRIOR_RULE_SETS``) and the saved model's
    prior is kept when none finds pairs. Returns how the prior was obtained.
    """
    for rule_set in plan.prior_rule_sets:
        rules = [block_on(*r) for r in rule_set]
        name = ", ".join("+".join(r) for r in rule_set)
        if sum(count_pairs(value_of, rule_set)) == 0:
            log(f"prior: rules {name} find no pair; trying the next set")
            continue
        try:
            linker.training.estimate_probability_two_random_records_match(rules, recall=recall)
        except ValueError as e:
            log(f"prior: rules {name} unusable ({e}); trying the next set")
            continue
        return f"estimated from {name} (recall {recall})"
    if saved_prior is None:
        raise TrainingError("no prior rule finds any pair, and there is no saved prior to fall back on")
    log(f"prior: no supported rule finds a pair; using the saved model's prior {saved_prior:.3g}")
    return f"saved model's prior {saved_prior:.3g} (no supported rule found pairs)"


def fit(
    value_of: ValueOf,
    linker: Linker,
    plan: model.ModelPlan,
    identity: IdentitySettings,
    log: Callable[[str], None],
    fallback_prior: float | None = None,
) -> TrainingReport:
    """Prior, u and m for ``linker`` (built with ``model.settings(plan)``); ``fallback_prior`` (the
    shipped model's) when no prior rule finds a pair."""
    prior = estimate_prior(value_of, linker, plan, identity.prior_recall, fallback_prior, log)
    linker.training.estimate_u_using_random_sampling(max_pairs=identity.u_max_pairs, seed=identity.seed)
    report = TrainingReport(prior=prior)
    rules = [block_on(*r) for r in plan.training_rules]
    counts = count_pairs(value_of, plan.training_rules)
    for fields, rule, pairs in zip(plan.training_rules, rules, counts, strict=True):
        name = "+".join(fields)
        if pairs == 0:
            report.em_sessions[name] = "skipped: no pairs"
            continue
        # Splink 5 samples records only when given ``max_pairs`` (``record_sample_proportion``
        # alone sizes its probe of the block, and sampled nothing here before).
        sampled = pairs > identity.em_max_pairs
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule,
                max_pairs=identity.em_max_pairs if sampled else None,
                estimate_without_term_frequencies=True,
            )
        except Exception as e:  # Splink raises several kinds (EMTrainingException, ValueError…)
            report.em_sessions[name] = f"failed: {type(e).__name__}: {e}"
            log(f"training: EM on {name} failed ({type(e).__name__}: {e})")
            continue
        report.em_sessions[name] = f"ran on {pairs:,} pairs" + (
            f" (records sampled to about {identity.em_max_pairs:,} pairs)" if sampled else ""
        )
    if not any(v.startswith("ran") for v in report.em_sessions.values()):
        raise TrainingError(
            "EM could not run on any training rule "
            f"({'; '.join(f'{k}: {v}' for k, v in report.em_sessions.items()) or 'no rule supported'})"
        )
    return report


def monotone_weights(saved: dict) -> dict:
    """The model with each comparison's weights made non-increasing from its closest level down.

    Levels are ordered from the closest agreement (exact) to the loosest (else), and a closer
    agreement is never weaker evidence of a match than a looser one. Splink's EM, one blocking rule
    at a time, can break that order when a record's errors are not independent across fields: in
    RLdata each duplicate has exactly one mistyped field, so among matches in an exact-name block
    the birth date is always the mistyped one, and EM finds an exact birth date rarer among
    matches (weight +5) than one digit wrong (+10). Adjacent levels out of order are pooled (their
    m and u summed: pool-adjacent-violators), which gives them one weight between the two.
    """
    fixed = json.loads(json.dumps(saved))
    for comparison in fixed["comparisons"]:
        levels = [
            lv
            for lv in comparison["comparison_levels"]
            if not lv.get("is_null_level") and lv.get("m_probability") and lv.get("u_probability")
        ]
        blocks: list[list[dict]] = []
        for level in levels:
            blocks.append([level])
            while len(blocks) > 1 and _weight(blocks[-2]) < _weight(blocks[-1]):
                last = blocks.pop()
                blocks[-1].extend(last)
        for block in blocks:
            m = sum(lv["m_probability"] for lv in block)
            u = sum(lv["u_probability"] for lv in block)
            for lv in block:
                # Keep each level's u (what random pairs show); give it the pooled weight.
                lv["m_probability"] = min(1.0, lv["u_probability"] * m / u)
    return fixed


def _weight(block: list[dict]) -> float:
    return math.log2(sum(lv["m_probability"] for lv in block) / sum(lv["u_probability"] for lv in block))


def parameter_rows(saved: dict) -> list[dict[str, object]]:
    """One row per comparison level: m, u and the match weight log2(m/u)."""
    rows = []
    for comparison in saved["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            rows.append(
                {
                    "comparison": comparison["output_column_name"],
                    "level": level.get("label_for_charts", level["sql_condition"]),
                    "m_probability": m,
                    "u_probability": u,
                    "match_weight": None if weight is None else round(weight, 3),
                }
            )
    return rows


def write_report(linker: Linker, report: TrainingReport, plan: model.ModelPlan, folder: Path) -> Path:
    """Splink's charts (inline, offline) and the parameter table under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    charts = {
        "match_weights.html": linker.visualisations.match_weights_chart(),
        "m_u_parameters.html": linker.visualisations.m_u_parameters_chart(),
    }
    for name, chart in charts.items():
        write_text_atomically(folder / name, chart.to_html(inline=True))
    saved = linker.misc.save_model_to_json()
    rows = parameter_rows(saved)
    with (folder / "parameters.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["comparison"])
        writer.writeheader()
        writer.writerows(rows)
    cells = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row.values())
        + "</tr>"
        for row in rows
    )
    sessions = "".join(
        f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in report.em_sessions.items()
    )
    described = "".join(
        f"<li>{html.escape(k)}: <code>{html.escape(str(v))}</code></li>" for k, v in plan.describe().items()
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Identity model training report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}
td,th{{padding:2px 8px;border-bottom:1px solid #ddd}} td:nth-child(n+3){{text-align:right}}</style>
</head><body>
<h1>Identity model: training report</h1>
<p>Model written to <code>{html.escape(str(report.model_path))}</code>.
Prior (probability that two random records match): {html.escape(report.prior)};
λ = {saved["probability_two_random_records_match"]:.4g}.</p>
<p>Splink charts: <a href="match_weights.html">match weights</a>,
<a href="m_u_parameters.html">m and u parameters</a>.
Parameter table: <a href="parameters.csv">parameters.csv</a>.</p>
<h2>EM sessions</h2><ul>{sessions}</ul>
<h2>What the data supports</h2><ul>{described}</ul>
<h2>Parameters</h2>
<table><tr><th>comparison</th><th>level</th><th>m</th><th>u</th><th>match weight</th></tr>{cells}</table>
</body></html>
"""
    write_text_atomically(folder / "index.html", page)
    return folder / "index.html"
