"""A failed check in one line a user can act on: what failed, where, which value, what to do.

Great Expectations says what was expected ("created_at is present") and hands back a count and a
list of values (``[None, None]``, ``[False, False]`` for a predicate computed in the batch query).
Printed as is, that reads as the opposite of what failed and names no file. This module turns an
``Outcome`` into one line:

    raw.ecommerce_orders: created_at is missing in 12 rows (14.81 %); e.g. (empty) at
    landing/ecommerce/orders_2026-10.csv line 14; …; to do: correct these rows in the source
    export and deliver the file again; nothing downstream of this table ran (docs/operations.md)

Raw rows carry ``_source_file`` and ``_source_line``, so the offending values of a raw check are
read again from the rows that failed, with their file and line; other layers name the rows the
check's own query found (a customer id, a count). Values are written as text, never as Python
reprs (the same lines go to the HTML quality report).
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import duckdb

SHOWN = 5
WELL_FORMED = "__well_formed"
NOT_IN_FUTURE = "__not_in_future"


# What this module reads of ``gx.Check``, ``gx.Outcome`` and ``gx.Suite`` (``gx`` calls this module:
# protocols rather than an import back, which would make a circle).
class Check(Protocol):
    name: str
    expectation: Any

    @property
    def critical(self) -> bool: ...


class Outcome(Protocol):
    check: Check
    observed: Any
    unexpected_count: int | None
    unexpected_percent: float | None
    examples: list[Any]
    error: str | None


class Suite(Protocol):
    asset_key: tuple[str, ...]
    query: str


def text_of(value: Any) -> str:
    """A value as a reader would write it: ``(empty)``, ``"abc"``, ``customer_id C1, records 65``."""
    if value is None:
        return "(empty)"
    if isinstance(value, dict):
        return ", ".join(f"{k} {text_of(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(text_of(v) for v in value)
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _column(outcome: Outcome) -> str | None:
    return outcome.check.expectation.configuration.kwargs.get("column")


def what_failed(outcome: Outcome) -> str:
    """The check in words, said as what went wrong (not what was expected)."""
    expectation = outcome.check.expectation
    kind = expectation.expectation_type
    column = _column(outcome) or ""
    kwargs = expectation.configuration.kwargs
    if kind == "expect_column_values_to_not_be_null":
        return f"{column} is missing"
    if kind == "expect_column_values_to_be_in_set" and column.endswith(WELL_FORMED):
        return f"{column.removesuffix(WELL_FORMED)} is malformed"
    if kind == "expect_column_values_to_be_in_set" and column.endswith(NOT_IN_FUTURE):
        return f"{column.removesuffix(NOT_IN_FUTURE)} is in the future"
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        bounds = f"[{'-∞' if low is None else f'{low:g}'}, {'∞' if high is None else f'{high:g}'}]"
        return f"{column} is outside {bounds}"
    what = expectation.description or outcome.check.name
    return f'"{what}" does not hold'


def _how_many(outcome: Outcome) -> str:
    count = outcome.unexpected_count
    if count is None and outcome.check.expectation.expectation_type == "unexpected_rows_expectation":
        count = outcome.observed  # the number of rows the check's query found
    if count is None:
        return f": observed {text_of(outcome.observed)}" if outcome.observed is not None else ""
    share = f" ({outcome.unexpected_percent:.2f} %)" if outcome.unexpected_percent is not None else ""
    return f" in {count} {'row' if count == 1 else 'rows'}{share}"


def what_to_do(suite: Suite, outcome: Outcome) -> str:
    """The next step, by layer and severity."""
    column = _column(outcome) or ""
    if outcome.error:
        return "the check could not run: see the run's log file and docs/quality.md"
    if suite.asset_key[0] == "raw":
        if outcome.check.name == "source_fresh":
            return (
                "the source has sent nothing recent: check its export, or judge freshness at the data's "
                "export instant with CDP_QUALITY_AS_OF (docs/quality.md)"
            )
        if column.endswith(WELL_FORMED):
            return "correct these values in the source system; the run went on (a warning)"
        if outcome.check.critical:
            return (
                "correct these rows in the source export and deliver the file again; nothing "
                "downstream of this table ran (docs/operations.md)"
            )
        return "check these values in the source system; the run went on (a warning)"
    if outcome.check.critical:
        return "nothing downstream ran; look at the rows named here, then docs/quality.md"
    return "the run went on; look at the rows named here (docs/quality.md)"


def _failing_predicate(outcome: Outcome) -> str | None:
    """SQL over the suite's batch query selecting the rows a column check failed on."""
    expectation = outcome.check.expectation
    kind = expectation.expectation_type
    column = _column(outcome)
    if not column:
        return None
    kwargs = expectation.configuration.kwargs
    if kind == "expect_column_values_to_not_be_null":
        return f'"{column}" is null'
    if kind == "expect_column_values_to_be_in_set" and kwargs.get("value_set") == [True]:
        return f'"{column}" = false'
    if kind == "expect_column_values_to_be_between":
        parts = []
        if kwargs.get("min_value") is not None:
            parts.append(f'"{column}" < {float(kwargs["min_value"])}')
        if kwargs.get("max_value") is not None:
            parts.append(f'"{column}" > {float(kwargs["max_value"])}')
        return " or ".join(parts) or None
    return None


def _shown_column(column: str) -> str:
    """The delivered column behind a computed predicate column (``phone__well_formed`` → ``phone``)."""
    return column.removesuffix(WELL_FORMED).removesuffix(NOT_IN_FUTURE)


def raw_places(con: duckdb.DuckDBPyConnection, suite: Suite, outcome: Outcome) -> list[str]:
    """``"06 12" at landing/<file> line <n>`` for the first failing raw rows of a column check."""
    predicate = _failing_predicate(outcome)
    column = _column(outcome)
    if suite.asset_key[0] != "raw" or predicate is None or column is None:
        return []
    try:
        rows = con.execute(
            f'select "{_shown_column(column)}", _source_file, _source_line from ({suite.query}) '
            f"where {predicate} order by _source_file, _source_line limit {SHOWN}"
        ).fetchall()
    except duckdb.Error:
        return []
    return [f"{text_of(value)} at landing/{file} line {line}" for value, file, line in rows]


def _row_places(con: duckdb.DuckDBPyConnection, suite: Suite, outcome: Outcome) -> list[str]:
    """The rows a query check found, with the lines of their file when they name one (raw)."""
    places = []
    for example in outcome.examples[:SHOWN]:
        if not isinstance(example, dict):
            places.append(text_of(example))
            continue
        row = dict(example)
        file = row.pop("_source_file", None)
        if file is None:
            places.append(text_of(row))
            continue
        keys = {k: v for k, v in row.items() if k != "copies"}
        lines: list[int] = []
        with contextlib.suppress(duckdb.Error):  # a key that cannot be matched: the file alone
            lines = [
                n
                for (n,) in con.execute(
                    f"select _source_line from ({suite.query}) where _source_file = ? and "
                    + " and ".join(f'"{k}"::varchar = ?' for k in keys)
                    + " order by 1 limit 10",
                    [file, *(str(v) for v in keys.values())],
                ).fetchall()
            ]
        where = f"landing/{file}" + (f" lines {', '.join(map(str, lines))}" if lines else "")
        places.append(f"{text_of(row)} at {where}")
    return places


def failure_message(con: duckdb.DuckDBPyConnection, suite: Suite, outcome: Outcome) -> str:
    """One line: asset, the check in words, how many, the offending values and where, what to do."""
    asset = ".".join(suite.asset_key)
    if outcome.error:
        failed = f"{outcome.check.name} could not be evaluated ({outcome.error})"
        return f"{asset}: {failed}; to do: {what_to_do(suite, outcome)}"
    places = raw_places(con, suite, outcome) or _row_places(con, suite, outcome)
    found = f"; e.g. {'; '.join(places)}" if places else ""
    return f"{asset}: {what_failed(outcome)}{_how_many(outcome)}{found}; to do: {what_to_do(suite, outcome)}"
