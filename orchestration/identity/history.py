"""One row per successful identity run: how many records and customers, and how they were linked.

Whether a share of records linked only by Splink (or left alone) is healthy depends on the data: a
retailer whose tills collect no e-mail has far more probabilistic links than our sample data, and
no fixed band fits every warehouse. What does not depend on the data is that the shares of one
warehouse move slowly: each run adds a few days of exports to months of history. A jump between
two runs means the model, the thresholds or a source export changed, and is worth stopping for.
So each identity run appends its figures to ``identity.resolution_runs`` right after stable ids are
assigned (a row exists only for a run that got that far), and the identity quality checks
(``orchestration/quality/suites.py``) compare the newest row with the one before it. The accuracy
estimated without a truth file (``estimate``) is kept the same way, in ``identity.accuracy_estimates``.
"""

from __future__ import annotations

import duckdb

METHODS = ("deterministic", "probabilistic", "singleton")
SHARES = tuple(f"{method}_share" for method in METHODS)

RUNS_DDL = """
create schema if not exists identity;
create table if not exists identity.resolution_runs (
    run_number bigint not null,        -- 1, 2, ... in the order runs were recorded
    run_id varchar not null,           -- the Dagster run
    resolved_at timestamptz not null,
    records bigint not null,           -- identity records mapped to a customer
    customers bigint not null,
    deterministic_share double,        -- shares of records by match_method; null when none
    probabilistic_share double,
    singleton_share double
)
"""

# The accuracy estimated without a truth file (``estimate``), appended by every run that resolved:
# here beside the runs' shares, which the identity checks read the same way.
ESTIMATES_DDL = """
create schema if not exists identity;
create table if not exists identity.accuracy_estimates (
    run_id varchar not null,            -- the Dagster run
    estimated_at timestamptz not null,
    estimated_recall double,            -- estimated pairwise recall (null: no known pair)
    known_pairs bigint not null,        -- pairs sharing a hard key it rests on
    hidden_key_recall double,           -- share of them the run joins without the key
    expected_precision double,          -- expected pairwise precision (null: no pair)
    links bigint not null,              -- joins of two parts the precision is made of
    pairs bigint not null               -- pairs of records within a customer
);
-- Added later: the steward's decisions as labels (estimate.steward_agreement).
alter table identity.accuracy_estimates add column if not exists steward_labels bigint;
alter table identity.accuracy_estimates add column if not exists steward_agreement double;
"""


def record_resolution_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, float | None]:
    """Append this run's counts and shares by ``match_method`` (``identity.customer_source_records``)
    to ``identity.resolution_runs``; return the shares."""
    con.execute(RUNS_DDL)
    shares = ", ".join(f"avg((match_method = '{m}')::double)" for m in METHODS)
    con.execute(
        f"""
        insert into identity.resolution_runs
        select (select coalesce(max(run_number), 0) + 1 from identity.resolution_runs),
               $1, now(), count(*), count(distinct customer_id), {shares}
        from identity.customer_source_records
        """,
        [run_id],
    )
    row = con.execute(
        f"select {', '.join(SHARES)} from identity.resolution_runs order by run_number desc limit 1"
    ).fetchall()[0]
    return dict(zip(SHARES, row, strict=True))
