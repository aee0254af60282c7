"""Run a Great Expectations 1.x suite on a warehouse relation, through the warehouse's own connection.

GX talks SQL through SQLAlchemy; duckdb-engine is the DuckDB dialect. Two things make the pair work
on the connection the ``warehouse`` resource already holds (assets never open their own):

- the SQLAlchemy engine is built with ``creator=`` returning a cursor of that connection, so GX
  reads the same database instance (no second file handle, no lock conflict);
- duckdb-engine runs every statement of a connection on one DuckDB connection, and DuckDB keeps
  one pending result per connection: the ROLLBACK that SQLAlchemy issues when GX hands a
  connection back would discard the rows GX has not fetched yet (GX fetches after closing). GX
  only reads, so the dialect below runs statements in autocommit and makes begin / commit /
  rollback no-ops.

GX has no DuckDB regex or "now" support, so predicates it cannot express (formats, dates not in
the future) are computed as boolean columns in the batch query and checked with
``ExpectColumnValuesToBeInSet([True], mostly=...)`` (see ``suites.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe
from duckdb_engine import ConnectionWrapper
from duckdb_engine import Dialect as DuckDBDialect
from great_expectations.data_context.types.base import ProgressBarsConfig
from sqlalchemy.dialects import registry
from sqlalchemy.pool import StaticPool

from orchestration.quality.messages import failure_message

EXAMPLES = 5

# GX logs every metric it computes and draws progress bars; a pipeline step wants neither.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


class AutocommitDuckDBDialect(DuckDBDialect):
    """duckdb-engine with no transaction statements (see the module docstring for why)."""

    def do_begin(self, dbapi_connection: Any) -> None:
        pass

    def do_commit(self, dbapi_connection: Any) -> None:
        pass

    def do_rollback(self, dbapi_connection: Any) -> None:
        pass


registry.register("duckdb.autocommit", __name__, "AutocommitDuckDBDialect")


@dataclass(frozen=True)
class Check:
    """One expectation under a short name: the name of the Dagster asset check it becomes."""

    name: str
    expectation: gxe.Expectation

    @property
    def critical(self) -> bool:
        return str(self.expectation.severity).lower().endswith("critical")


@dataclass(frozen=True)
class Suite:
    """Expectations on one asset, validated on ``query`` (a SQL select over the warehouse).

    ``prepare``: idempotent statements run before, that create (empty) the tables ``query`` reads
    when the warehouse predates them.
    """

    asset_key: tuple[str, ...]
    query: str
    checks: tuple[Check, ...]
    prepare: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return "__".join(self.asset_key)


@dataclass(frozen=True)
class Outcome:
    """What one expectation found, in the words the Dagster UI and the quality report show."""

    check: Check
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)
    error: str | None = None
    message: str | None = None  # the failure in words, with places (``messages.failure_message``)

    @property
    def reason(self) -> str:
        """Passed: the expectation. Failed: what went wrong, where, what to do (``message``, set by
        ``validate``, which can read the failing rows; else said from the counts alone)."""
        if self.success:
            return f"passed: {self.check.expectation.description or self.check.name}"
        if self.message:
            return self.message
        if self.error:
            return f"could not be evaluated: {self.error}"
        what = self.check.expectation.description or self.check.name
        count = f" in {self.unexpected_count} rows" if self.unexpected_count is not None else ""
        return f'failed: "{what}" does not hold{count}'


@contextmanager
def gx_context(con: duckdb.DuckDBPyConnection) -> Iterator[Any]:
    """An ephemeral GX context whose SQL data source reads through ``con``.

    Building one costs about as much as validating a small suite (the context, then the data
    source and its SQLAlchemy engine: 0.03-0.06 s), so a check step opens one and passes it to
    ``validate`` for every suite of its layer; the suites' query assets, suites and validation
    definitions are named after the suite (``Suite.name``), unique within a step.
    """
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_sql(
        name="warehouse",
        connection_string="duckdb+autocommit:///:memory:",
        kwargs={"creator": lambda: ConnectionWrapper(con.cursor()), "poolclass": StaticPool},
    )
    try:
        yield context
    finally:
        context.data_sources.get("warehouse").get_engine().dispose()


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX's error for an expectation: at the top, or keyed by the metric that failed to resolve."""
    if info.get("exception_message"):
        return info["exception_message"]
    raised = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return raised[0].get("exception_message") if raised else None


def validate(
    con: duckdb.DuckDBPyConnection, suite: Suite, context: Any | None = None
) -> tuple[list[Outcome], dict[str, Any]]:
    """Prepare and validate ``suite`` on ``con``: one outcome per check (a failed one with its
    message) and GX's own result.

    ``context``: a ``gx_context(con)`` shared by the suites of a check step (each suite once per
    context); without one, the suite gets its own (a single suite, as ``cdp inspect`` runs).
    """
    for statement in suite.prepare:
        con.execute(statement)
    if context is None:
        with gx_context(con) as own:
            outcomes, result = run_suite(own, suite)
    else:
        outcomes, result = run_suite(context, suite)
    outcomes = [
        o if o.success or o.examples else replace(o, examples=_unexpected_rows(con, suite, o.check))
        for o in outcomes
    ]
    # A failure in one line: the values that failed, their landing file and line, what to do.
    return [o if o.success else replace(o, message=failure_message(con, suite, o)) for o in outcomes], result


def run_suite(context: Any, suite: Suite) -> tuple[list[Outcome], dict[str, Any]]:
    """Validate ``suite``; return one outcome per check and GX's own result (for the report)."""
    datasource = context.data_sources.get("warehouse")
    asset = datasource.add_query_asset(name=suite.name, query=suite.query)
    batch = asset.add_batch_definition_whole_table("whole")
    gx_suite = context.suites.add(
        gx.ExpectationSuite(name=suite.name, expectations=[c.expectation for c in suite.checks])
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
    )
    result = validation.run(result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES})
    by_id = {r.expectation_config.id: r for r in result.results}
    outcomes = []
    for check, expectation in zip(suite.checks, gx_suite.expectations, strict=True):
        r = by_id[expectation.id]
        found = r.result or {}
        outcomes.append(
            Outcome(
                check=check,
                success=bool(r.success),
                observed=found.get("observed_value"),
                unexpected_count=found.get("unexpected_count"),
                unexpected_percent=found.get("unexpected_percent"),
                examples=list(found.get("partial_unexpected_list") or [])[:EXAMPLES],
                error=_exception_message(r.exception_info or {}),
            )
        )
    return outcomes, result.to_json_dict()


def _unexpected_rows(con: duckdb.DuckDBPyConnection, suite: Suite, check: Check) -> list[Any]:
    """A few rows a failed query check found (a key twice in one file: the file and the key).

    GX returns them only with the COMPLETE result format, which would also return every failing
    value of every column check; the check's own query, limited, is cheaper.
    """
    query = getattr(check.expectation, "unexpected_rows_query", None)
    if not query:
        return []
    try:
        cursor = con.execute(
            f"select * from ({query.replace('{batch}', f'({suite.query})')}) limit {EXAMPLES}"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error:
        return []
