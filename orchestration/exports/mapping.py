"""Map a retailer's own export columns and formats onto our contract, without writing Python.

``$CDP_DATA_DIR/sources.yml`` (or the file named by ``CDP_SOURCES_FILE``) holds, per raw table,
what differs from the built-in contract in ``orchestration/exports``::

    ecommerce_customers:                 # raw table: <source>_<export>, see `cdp formats`
      pattern: "customers_export*.csv"   # file names of this export under landing/ecommerce/,
                                         # added to the contract's (customers_*.csv) unless
      replace_patterns: false            # true: only the pattern(s) above
      strip_apostrophes: true            # false: keep a leading ' before digits or + as data
      format:
        delimiter: ";"
        encoding: cp1252                 # utf-8 or cp1252
        decimal: ","                     # "," or "."
        date_format: "%d/%m/%Y"          # strptime codes
        timestamp_format: "%d/%m/%Y %H:%M"   # or null for ISO 8601
      columns:                           # our column: the file's column name
        customer_id: "Customer ID"
        first_name: "First Name"
        email: "Email"
        zip: "Default Address Zip"
      required: [customer_id, created_at]  # replaces the contract's required columns

Everything is optional; the file is validated when it is read, and an unknown table, key or
column, or a bad value, raises ``MappingError`` naming the file and the key before any file loads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from orchestration.exports.spec import CsvFormat, ExportTable
from orchestration.settings import data_folder

TABLE_KEYS = {"pattern", "replace_patterns", "format", "columns", "required", "strip_apostrophes"}
FORMAT_KEYS = {"delimiter", "encoding", "decimal", "date_format", "timestamp_format"}
ENCODINGS = ("utf-8", "cp1252")


class MappingError(ValueError):
    """The mapping file is not valid; the message names the file and the key."""


def mapping_path(data_dir: Path) -> Path:
    """The mapping file of the data folder ``data_dir`` (``Settings.mapping_path``)."""
    return data_folder(data_dir).mapping_path


def load_mapping(path: Path, tables: tuple[ExportTable, ...]) -> dict[str, ExportTable]:
    """The export tables with the mapping file applied (the contract itself when there is none)."""
    by_table = {t.table: t for t in tables}
    if not path.exists():
        return by_table
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: must be a mapping of raw table names to settings")
    for name, settings in raw.items():
        if name not in by_table:
            raise MappingError(f"{path}: unknown table '{name}' (known: {', '.join(sorted(by_table))})")
        by_table[name] = _apply(by_table[name], settings or {}, f"{path}: {name}")
    return by_table


def _check_keys(settings: Any, allowed: set[str], where: str) -> None:
    """``settings`` is a mapping whose keys are all in ``allowed``."""
    if not isinstance(settings, dict):
        raise MappingError(f"{where}: must be a mapping with keys {sorted(allowed)}")
    unknown = set(settings) - allowed
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {sorted(unknown)} (allowed: {sorted(allowed)})")


def _apply(spec: ExportTable, settings: Any, where: str) -> ExportTable:
    _check_keys(settings, TABLE_KEYS, where)
    changes: dict[str, Any] = {}
    for flag in ("replace_patterns", "strip_apostrophes"):
        if flag in settings and not isinstance(settings[flag], bool):
            raise MappingError(f"{where}.{flag}: true or false")
    if "pattern" in settings:
        changes |= _patterns(spec, settings["pattern"], settings.get("replace_patterns", False), where)
    elif settings.get("replace_patterns"):
        raise MappingError(f"{where}.replace_patterns: needs a pattern to replace the contract's with")
    if "strip_apostrophes" in settings:
        changes["strip_apostrophes"] = settings["strip_apostrophes"]
    if "format" in settings:
        changes["format"] = _format(spec, settings["format"], f"{where}.format")
    columns = {c.name: c for c in spec.columns}
    renames = settings.get("columns") or {}
    if not isinstance(renames, dict):
        raise MappingError(f"{where}.columns: a mapping of our column names to the file's")
    for ours, theirs in renames.items():
        if ours not in columns:
            raise MappingError(f"{where}.columns.{ours}: not a column of {spec.table} (see `cdp formats`)")
        if not isinstance(theirs, str) or not theirs.strip():
            raise MappingError(f"{where}.columns.{ours}: the file's column name, as text")
        columns[ours] = dataclasses.replace(columns[ours], aliases=(theirs.strip(),))
    if "required" in settings:
        required = settings["required"]
        if not isinstance(required, list) or any(r not in columns for r in required):
            raise MappingError(f"{where}.required: a list of columns of {spec.table}")
        for key in spec.key:
            if key not in required:
                raise MappingError(f"{where}.required: the key column '{key}' must stay required")
        columns = {n: dataclasses.replace(c, required=n in required) for n, c in columns.items()}
    changes["columns"] = tuple(columns.values())
    return dataclasses.replace(spec, **changes)


def _patterns(spec: ExportTable, given: Any, replace: bool, where: str) -> dict[str, Any]:
    """``pattern`` and ``extra_patterns`` from the mapping's ``pattern:`` (one or a list).

    The mapping's patterns come first (shown in the asset description and `cdp formats`); the
    contract's own pattern stays unless ``replace_patterns: true``, so a retailer who adds a
    Shopify export does not silently stop loading their usual ``customers_*.csv`` files."""
    patterns = [given] if isinstance(given, str) else given
    if (
        not isinstance(patterns, list)
        or not patterns
        or any(not isinstance(p, str) or "/" in p or not p.strip() for p in patterns)
    ):
        raise MappingError(f"{where}.pattern: a file name pattern such as 'orders_*.csv', or a list of them")
    kept = () if replace else (spec.pattern, *spec.extra_patterns)
    return {"pattern": patterns[0], "extra_patterns": (*patterns[1:], *kept)}


def _format(spec: ExportTable, settings: Any, where: str) -> CsvFormat:
    if not isinstance(spec.format, CsvFormat):
        raise MappingError(f"{where}: {spec.table} is NDJSON; only CSV exports take a format")
    _check_keys(settings, FORMAT_KEYS, where)
    changes: dict[str, Any] = {}
    if "delimiter" in settings:
        if settings["delimiter"] not in (",", ";", "\t", "|"):
            raise MappingError(f"{where}.delimiter: one of ',', ';', '\\t', '|'")
        changes["delimiter"] = settings["delimiter"]
    if "encoding" in settings:
        if str(settings["encoding"]).lower() not in ENCODINGS:
            raise MappingError(f"{where}.encoding: one of {', '.join(ENCODINGS)}")
        changes["encoding"] = str(settings["encoding"]).lower()
    if "decimal" in settings:
        if settings["decimal"] not in (",", "."):
            raise MappingError(f"{where}.decimal: ',' or '.'")
        changes["decimal_comma"] = settings["decimal"] == ","
    for key in ("date_format", "timestamp_format"):
        if key in settings:
            value = settings[key]
            if value is not None and (not isinstance(value, str) or "%" not in value):
                raise MappingError(f"{where}.{key}: strptime codes such as '%d/%m/%Y', or null for ISO 8601")
            if key == "date_format" and value is None:
                raise MappingError(f"{where}.date_format: strptime codes such as '%Y-%m-%d'")
            changes[key] = value
    return dataclasses.replace(spec.format, **changes)
