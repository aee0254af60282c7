"""Identity resolution: the records of every source, standardised, linked and clustered into
customers with stable ids. Reference: docs/identity.md.

What callers use is exported here. The modules, in the order of a run: ``standardise`` (one place
for standardisation, ``identity.records``), ``links`` (exact links), ``splink_inputs`` and
``model`` (what Splink compares and how it blocks), ``train`` (fitting the model), ``scoring``
(the scored pairs), ``cluster`` and ``cluster_increment`` with ``merge``, ``names`` and ``graph``
(constrained clustering), ``stable_ids`` (customer ids that survive re-clustering), ``history``
and ``report`` (what a run did), ``evaluate`` (against a truth file), ``estimate`` (accuracy
without one), ``reference`` (plain Splink on the same records, the yardstick) and ``explain``
(why two records are one customer or two). ``resolution`` runs them;
``incremental`` says what a run may build on; ``config`` reads ``identity.yml``.

The names are imported on first use (PEP 562 module ``__getattr__``), not with the package:
``runtime.changes`` reads ``IDENTITY_RAW_TABLES`` and ``config_path`` on the fast path of
``cdp run`` when nothing changed, and privacy reads ``RECORD_SOURCES``; importing the package
eagerly would load Splink for them (0.5 s more than the 4 ms they cost). No exported name is the
name of a module of the package: importing that module would replace the name on the package.
``_EXPORTS`` says where each name is defined.
"""

from __future__ import annotations

import importlib

# Each public name → the module of the package that defines it.
_EXPORTS = {
    # Resolving (standardise, link, score, cluster), and training the model alone.
    "resolve": "resolution",
    "ResolutionConfig": "resolution",
    "ResolutionResult": "resolution",
    "train_model": "resolution",
    "keep_previous": "resolution",
    # Stable customer ids, the run's record, its report.
    "assign_stable_ids": "stable_ids",
    "record_resolution_run": "history",
    "report_run": "report",
    "RunReport": "report",
    # Evaluation against a truth file.
    "evaluate_warehouse": "evaluate",
    "Evaluation": "evaluate",
    "customer_counts": "evaluate",
    "CustomerCounts": "evaluate",
    "load_truth": "evaluate",
    "score": "evaluate",
    "Scores": "evaluate",
    # Accuracy estimated without a truth file.
    "estimate_accuracy": "estimate",
    "record_accuracy_estimate": "estimate",
    "AccuracyEstimate": "estimate",
    # The plain-Splink reference, fitted on any warehouse's records.
    "plain_splink": "reference",
    "ReferenceRun": "reference",
    # The settings (identity.yml).
    "load_identity_settings": "config",
    "IdentitySettings": "config",
    "IdentityConfigError": "config",
    "config_path": "config",
    "SHIPPED_CONFIG": "config",
    # The raw tables identity reads, its record sources, its SQL macros.
    "IDENTITY_RAW_TABLES": "standardise",
    "RECORD_SOURCES": "standardise",
    "install_macros": "standardise",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    """Import the module defining ``name`` on its first use, and keep the name on the package."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
