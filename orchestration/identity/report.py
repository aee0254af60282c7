"""What an identity run reports besides the resolution's own figures (``ResolutionResult``) and the
ids' (``stable_ids``): what the identity asset shows as metadata and a reader judges a run by.

- anonymous visitors: web visitor ids that never logged in nor checked out stay anonymous (no
  identity record);
- records per customer: how many customers hold one record, two, …;
- against a truth file, when there is one (generated data): the customer ids' accuracy
  (``evaluate.score_customer_ids``), the true pairs left apart by what the two parts of the person
  share (``evaluate.MissedPairs``) and the true pairs of named records no blocking rule compares
  (``evaluate.BlockingRecall``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.identity.evaluate import blocking_recall, missed_customer_pairs, score_customer_ids


@dataclass(frozen=True)
class RunReport:
    anonymous_visitors: int
    # (records, customers holding that many), by number of records.
    records_per_customer: list[tuple[int, int]]
    # Against the truth file; empty without one.
    accuracy: dict[str, float] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)


def report_run(con: duckdb.DuckDBPyConnection, truth_file: Path) -> RunReport:
    """The figures of the resolution in the warehouse, after stable ids; scored against
    ``truth_file`` when it exists."""
    anonymous_visitors = con.execute(
        """
        select count(distinct visitor_id) from raw_current.ecommerce_web_events
        where 'ecommerce_visitors:' || visitor_id not in (select unique_id from identity.records)
        """
    ).fetchall()[0][0]
    sizes = con.execute(
        """
        select size, count(*) from (
            select customer_id, count(*) as size from identity.customer_source_records group by 1
        ) group by size order by size
        """
    ).fetchall()
    if not truth_file.exists():
        return RunReport(anonymous_visitors, sizes)
    accuracy = score_customer_ids(con, truth_file).as_dict()
    missed = {**missed_customer_pairs(con).as_dict(), **blocking_recall(con).as_dict()}
    return RunReport(anonymous_visitors, sizes, accuracy, missed)
