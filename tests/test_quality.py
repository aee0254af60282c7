"""Data quality gates: GX suites as Dagster asset checks that stop bad data.

Clean sample data passes every check (the session ``pipeline`` run). Then each kind of defect is
injected and the matching check must fail with its reason: three raw defects in one survey file
(out-of-range score, future date, duplicated key) block everything downstream of the raw table;
a giant identity cluster and an out-of-range KPI are injected into a copy of the clean warehouse
and caught by the ``quality_checks`` job, which runs the checks on a warehouse as it is; a
revenue mismatch is caught by the dbt reconciliation test. The identity shares are judged on
hand-made identity tables against the previous run, with real GX on DuckDB.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.dbt import cdp_dbt_models
from orchestration.defs.quality import build_suite_checks
from orchestration.defs.resources import build_resources
from orchestration.identity.history import ESTIMATES_DDL, record_resolution_run
from orchestration.lib.dbt import dbt_executable
from orchestration.lib.dbt_project import DBT_PROJECT_DIR
from orchestration.quality.failures import failing_rows
from orchestration.quality.gx import Outcome, Suite, validate
from orchestration.quality.suites import FRACTION, build_suites
from orchestration.settings import Settings, get_quality_settings, get_settings
from tests.conftest import FRESH_AS_OF, Generated, failed_checks, query, run_job

SURVEY_HEADER = (
    "response_id,survey_id,touchpoint,submitted_at,respondent_email,nps,csat,ces,verbatim,order_ref,"
    "ticket_ref,store_code"
)


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """Every check evaluated in the run, keyed 'asset/path:check_name'."""
    return {f"{c.asset_key.to_user_string()}:{c.check_name}": c for c in result.get_asset_check_evaluations()}


def test_clean_data_passes_every_check_and_the_report_lists_them(pipeline) -> None:
    settings, result = pipeline
    checks = check_results(result)
    gx = {k: c for k, c in checks.items() if c.metadata.get("expectation")}
    assert len(gx) == sum(len(s.checks) for s in build_suites(get_quality_settings())) > 100
    assert {k.split("/")[0] for k in gx} == {"raw", "identity", "marts"}
    assert [k for k, c in checks.items() if not c.passed] == []
    nps = gx["raw/survey_responses:nps_in_range"]
    assert nps.metadata["expectation"].value == "expect_column_values_to_be_between"
    assert nps.metadata["severity"].value == "critical"
    page = settings.serving_dir / "quality" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert f"{len(gx)} checks" in html and "0 failed" in html
    assert "<script" not in html and "http" not in html  # opens offline
    # One result file per suite: raw tables, identity, and every mart with a rate, share or range.
    suites = build_suites(get_quality_settings())
    assert len(list((page.parent / "validations").glob("*.json"))) == len(suites) > 25


def test_checks_have_severity_and_blocking_in_the_definitions() -> None:
    from orchestration.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    specs = {
        (key.asset_key.to_user_string(), key.name): graph.get_check_spec(key)
        for key in graph.asset_check_keys
    }
    assert specs[("raw/survey_responses", "nps_in_range")].blocking
    assert not specs[("raw/survey_responses", "respondent_email_format")].blocking
    assert not specs[("raw/survey_responses", "source_fresh")].blocking
    assert specs[("identity/customer_source_records", "no_cluster_above_cap")].blocking
    assert specs[("identity/customer_source_records", "probabilistic_share_near_previous_run")].blocking
    # Without CDP_QUALITY_PROBABILISTIC_SHARE the band is our sample data's: a warning.
    assert not specs[("identity/customer_source_records", "probabilistic_share_in_band")].blocking
    assert specs[("marts/mart_multichannel_customers", "multichannel_rate_in_range")].blocking


@pytest.fixture
def defective(settings: Settings, generated: Generated) -> Settings:
    """Landing files with one survey file carrying three defects."""
    shutil.rmtree(settings.landing_dir)
    shutil.copytree(generated.landing, settings.landing_dir)
    survey = sorted((settings.landing_dir / "survey").glob("responses_*.csv"))[-1]
    lines = survey.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == SURVEY_HEADER
    bad = [
        "R_bad_score,SV_STORE_PURCHASE,store_purchase,2026-10-20T10:00:00+01:00,,11,4,,,,,M001",
        "R_bad_future,SV_STORE_PURCHASE,store_purchase,2031-01-01T10:00:00+01:00,,9,4,,,,,M001",
        lines[1],  # the same response twice in one file
    ]
    survey.write_text("\n".join([*lines, *bad]) + "\n", encoding="utf-8")
    return settings


def test_raw_defects_fail_their_checks_with_reasons_and_block_downstream(defective: Settings) -> None:
    result = run_job("full_pipeline", defective, raise_on_error=False)
    checks = check_results(result)
    failed = {k: c for k, c in checks.items() if not c.passed}
    assert set(failed) == {
        "raw/survey_responses:nps_in_range",
        "raw/survey_responses:submitted_at_not_in_future",
        "raw/survey_responses:key_unique_per_file",
    }
    assert all(c.severity == dg.AssetCheckSeverity.ERROR for c in failed.values())
    nps = failed["raw/survey_responses:nps_in_range"]
    assert "nps is outside [0, 10] in 1 row" in nps.description and "11 at landing/" in nps.description
    assert nps.metadata["failing_examples"].value == ["11"]
    # ... and where the failing value was delivered: the bad score is the first line added.
    survey = sorted((defective.landing_dir / "survey").glob("responses_*.csv"))[-1]
    lines_text = survey.read_text(encoding="utf-8-sig").splitlines()
    line = lines_text.index(next(r for r in lines_text if r.startswith("R_bad_score")))
    assert f"at landing/survey/{survey.name} line {line + 1}" in nps.description
    assert (
        "submitted_at is in the future in 1 row"
        in failed["raw/survey_responses:submitted_at_not_in_future"].description
    )
    assert failed["raw/survey_responses:key_unique_per_file"].metadata["observed_value"].value == "1"
    duplicated = failed["raw/survey_responses:key_unique_per_file"].description
    assert f"at landing/survey/{survey.name} lines " in duplicated  # the file and both lines
    assert lines_text[1].split(",")[0] in duplicated  # the response id delivered twice
    materialized = {m.asset_key for m in result.get_asset_materialization_events()}
    materialized = (
        {e.asset_key for e in materialized}
        if False
        else {
            e.event_specific_data.materialization.asset_key for e in result.get_asset_materialization_events()
        }
    )
    assert dg.AssetKey(["raw", "survey_responses"]) in materialized
    assert dg.AssetKey(["identity", "customer_source_records"]) not in materialized
    assert not any(k.path[0] in ("staging", "marts") for k in materialized)
    # The report says what failed, first.
    html = (defective.serving_dir / "quality" / "index.html").read_text(encoding="utf-8")
    assert "3 failed" in html
    assert html.index("nps_in_range") < html.index("source_fresh")


@pytest.fixture
def warehouse_copy(pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A copy of the clean run's data dir, to break on purpose."""
    clean, _ = pipeline
    shutil.copytree(clean.data_dir, tmp_path / "cdp", ignore=shutil.ignore_patterns("dagster"))
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "cdp"))
    monkeypatch.setenv("CDP_QUALITY_AS_OF", FRESH_AS_OF)
    return get_settings()


def test_giant_cluster_and_out_of_range_kpi_fail_the_checks_on_an_existing_warehouse(
    warehouse_copy: Settings,
) -> None:
    con = duckdb.connect(str(warehouse_copy.warehouse_path))
    con.execute(
        "update identity.customer_source_records set customer_id = 'C_GIANT' "
        "where unique_id in"
        " (select unique_id from identity.customer_source_records order by unique_id limit 80)"
    )
    con.execute(
        "update marts.mart_multichannel_customers set multichannel_rate = 1.5"
        " where period_start = (select min(period_start) from marts.mart_multichannel_customers)"
    )
    # The retention that once reached 1.15: a rate above 1 is blocking, upper bound included.
    con.execute(
        "update marts.mart_retention set retention_rate_12m = 1.15"
        " where period_start = (select max(period_start) from marts.mart_retention)"
    )
    con.close()
    result = run_job("quality_checks", warehouse_copy, raise_on_error=False)
    checks = check_results(result)
    failed = {k: c for k, c in checks.items() if not c.passed}
    assert set(failed) == {
        "identity/customer_source_records:no_cluster_above_cap",
        "marts/mart_multichannel_customers:multichannel_rate_in_range",
        "marts/mart_retention:retention_rate_12m_in_range",
    }
    giant = failed["identity/customer_source_records:no_cluster_above_cap"]
    assert "no customer has more than 60 records" in giant.description
    assert 'in 1 row; e.g. customer_id "C_GIANT", records 80' in giant.description
    assert "1.5" in failed["marts/mart_multichannel_customers:multichannel_rate_in_range"].description
    assert len(checks) > 100  # raw, identity and marts, nothing materialized
    assert not result.get_asset_materialization_events()


def test_a_run_checks_the_raw_rows_it_loaded_and_the_quality_job_every_row(
    warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day's run reads the rows loaded since the raw table last passed its checks, not the
    whole history; rows that failed stay to be checked again; ``quality_checks`` reads every row."""
    monkeypatch.setenv("CDP_LANDING_SETTLE_SECONDS", "0")
    watermark = "select checked_through from pipeline.raw_checked where table_name = 'survey_responses'"
    [(checked,)] = query(warehouse_copy, watermark)
    assert query(warehouse_copy, "select max(_loaded_at) from raw.survey_responses") == [(checked,)]
    # A row checked long ago goes bad in the warehouse itself (not through a delivery)...
    con = duckdb.connect(str(warehouse_copy.warehouse_path))
    con.execute(
        "update raw.survey_responses set nps = 42"
        " where response_id = (select min(response_id) from raw.survey_responses)"
    )
    con.close()
    # ... and a new delivery brings a bad score.
    new = warehouse_copy.landing_dir / "survey" / "responses_2099-01.csv"
    bad = "R_new_bad,SV_STORE_PURCHASE,store_purchase,2026-10-30T10:00:00+01:00,,12,4,,,,,M001"
    new.write_text(f"{SURVEY_HEADER}\n{bad}\n", encoding="utf-8")

    result = run_job("full_pipeline", warehouse_copy, raise_on_error=False)
    checks = check_results(result)
    assert [k for k, c in checks.items() if not c.passed] == ["raw/survey_responses:nps_in_range"]
    nps = checks["raw/survey_responses:nps_in_range"]
    assert nps.metadata["failing_examples"].value == ["12"]  # the new row only
    assert nps.metadata["rows_checked"].value.startswith("rows loaded after ")
    # The rows that failed are not counted as checked: the next run reads them again.
    assert query(warehouse_copy, watermark) == [(checked,)]

    result = run_job("quality_checks", warehouse_copy, raise_on_error=False)
    nps = check_results(result)["raw/survey_responses:nps_in_range"]
    assert not nps.passed and sorted(nps.metadata["failing_examples"].value) == ["12", "42"]
    assert nps.metadata["rows_checked"].value == "every row"


def test_every_rate_and_share_in_the_marts_is_checked_between_0_and_1(pipeline) -> None:
    """Rates are found from the dbt docs: one missing from the docs would escape its check."""
    settings, _ = pipeline
    rates = {
        (table, column)
        for table, column in query(
            settings, "select table_name, column_name from duckdb_columns() where schema_name = 'marts'"
        )
        if FRACTION.search(column)
    }
    checked = {
        (suite.asset_key[1], check.name.removesuffix("_in_range"))
        for suite in build_suites(get_quality_settings())
        if suite.asset_key[0] == "marts"
        for check in suite.checks
        if check.expectation.min_value == 0 and check.expectation.max_value == 1
    }
    assert len(rates) > 20 and rates <= checked, sorted(rates - checked)


def dbt(*args: str) -> subprocess.CompletedProcess:
    """dbt in the project, on the warehouse CDP_DATA_DIR points at."""
    return subprocess.run(
        [dbt_executable(), *args], cwd=DBT_PROJECT_DIR, capture_output=True, text=True, check=False
    )


def dbt_test(select: str) -> subprocess.CompletedProcess:
    """``dbt test --store-failures --select <select>`` (what docs/operations.md tells a user to run)."""
    return dbt("test", "--store-failures", "--select", select)


def test_revenue_mismatch_fails_the_reconciliation_test(warehouse_copy: Settings) -> None:
    con = duckdb.connect(str(warehouse_copy.warehouse_path))
    con.execute(
        "update marts.fct_orders set net_amount = net_amount + 1"
        " where order_id = (select min(order_id) from marts.fct_orders)"
    )
    con.close()
    test = dbt_test("assert_orders_reconcile_with_raw")
    assert test.returncode == 1, test.stdout
    assert "FAIL 1 assert_orders_reconcile_with_raw" in test.stdout
    rows = failing_rows(warehouse_copy.warehouse_path, "assert_orders_reconcile_with_raw")
    assert rows.total == 1 and 'measure "revenue"' in rows.lines[0]


def ticket_without_date(con: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    """Deliver the first raw ticket again without its sale time, a value ingestion would have
    refused, appended behind its back as a load appends (a later ``_loaded_at``, so that the
    incremental staging table takes this version at its next build, and the staging test
    ``not_null_stg_pos__tickets_sold_at`` catches it); return the ticket's landing file and line."""
    source_file, line = con.execute(
        "select _source_file, _source_line from raw.pos_tickets order by 1, 2 limit 1"
    ).fetchall()[0]
    con.execute(
        "insert into raw.pos_tickets select * replace (null as date_heure, now() as _loaded_at) "
        "from raw.pos_tickets where _source_file = ? and _source_line = ?",
        [source_file, line],
    )
    return source_file, line


def test_a_failed_dbt_test_names_the_failing_values_and_their_landing_file_and_line(
    warehouse_copy: Settings,
) -> None:
    con = duckdb.connect(str(warehouse_copy.warehouse_path))
    source_file, line = ticket_without_date(con)
    con.close()
    run = dbt("run", "--select", "stg_pos__tickets")
    assert run.returncode == 0, run.stdout
    test = dbt_test("stg_pos__tickets")
    assert test.returncode == 1, test.stdout
    rows = failing_rows(warehouse_copy.warehouse_path, "not_null_stg_pos__tickets_sold_at")
    assert rows.total == 1
    assert f"(from landing/{source_file}, line {line})" in rows.lines[0]


def test_the_pipeline_keeps_the_failing_rows_of_failed_dbt_tests_only(warehouse_copy: Settings) -> None:
    """The dbt asset stores no test's rows while it builds; the tests that failed run again with
    ``--store-failures``, and what an earlier run stored for a test that passes now is dropped."""
    con = duckdb.connect(str(warehouse_copy.warehouse_path))
    source_file, line = ticket_without_date(con)
    # Left by earlier runs whose ticket ids were not unique, or missing (as a view, as every
    # test's rows were kept before); they pass now.
    con.execute("create schema if not exists test_failures")
    con.execute("create table test_failures.unique_stg_pos__tickets_ticket_id as select 'old' as ticket_id")
    con.execute("create view test_failures.not_null_stg_pos__tickets_ticket_id as select 'old' as ticket_id")
    con.close()
    result = dg.materialize(
        [cdp_dbt_models],
        selection=[dg.AssetKey(["staging", "stg_pos__tickets"])],
        resources=build_resources(warehouse_copy),
        raise_on_error=False,
    )
    assert "staging/stg_pos__tickets:not_null_stg_pos__tickets_sold_at" in failed_checks(result)
    rows = failing_rows(warehouse_copy.warehouse_path, "not_null_stg_pos__tickets_sold_at")
    assert rows is not None and rows.total == 1
    assert f"(from landing/{source_file}, line {line})" in rows.lines[0]
    stored = query(
        warehouse_copy,
        "select table_name from information_schema.tables where table_schema = 'test_failures'",
    )
    assert stored == [("not_null_stg_pos__tickets_sold_at",)]


def identity_suite() -> Suite:
    """The identity suite as a run builds it, with the thresholds in the environment now."""
    suites = build_suites(get_quality_settings())
    return next(s for s in suites if s.asset_key == ("identity", "customer_source_records"))


def identity_checks(con: duckdb.DuckDBPyConnection) -> dict[str, Outcome]:
    outcomes, _ = validate(con, identity_suite())
    return {o.check.name: o for o in outcomes}


def failed(checks: dict[str, Outcome]) -> dict[str, str]:
    return {
        name: "critical" if o.check.critical else "warning" for name, o in checks.items() if not o.success
    }


def resolved(con: duckdb.DuckDBPyConnection, probabilistic: int, singleton: int) -> None:
    """Stand-in for an identity run's output: 100 records, the given numbers linked only by Splink
    and left alone, the others linked deterministically in pairs."""
    con.execute("create schema if not exists identity")
    con.execute(
        """
        create or replace table identity.customer_source_records as
        select 'r:' || i as unique_id,
               case when i < $p then 'probabilistic' when i < $p + $s then 'singleton'
                    else 'deterministic' end as match_method,
               case when i >= $p and i < $p + $s then 'S' || i else 'C' || i // 2 end as customer_id,
               false as in_flagged_cluster
        from range(100) as t(i)
        """,
        {"p": probabilistic, "s": singleton},
    )
    con.execute(
        "create or replace table identity.records as select unique_id from identity.customer_source_records"
    )


def test_first_identity_run_with_unusual_shares_only_warns(con: duckdb.DuckDBPyConnection) -> None:
    resolved(con, probabilistic=60, singleton=10)  # a retailer whose tills collect no e-mail
    # A warehouse whose identity ran before runs were recorded: nothing to compare with.
    assert failed(identity_checks(con)) == {"probabilistic_share_in_band": "warning"}
    shares = record_resolution_run(con, "run-1")
    assert shares == pytest.approx(
        {"deterministic_share": 0.3, "probabilistic_share": 0.6, "singleton_share": 0.1}
    )
    assert con.execute(
        "select run_number, run_id, records, customers from identity.resolution_runs"
    ).fetchall() == [(1, "run-1", 100, 10 + 45)]
    checks = identity_checks(con)
    assert failed(checks) == {"probabilistic_share_in_band": "warning"}
    assert "set CDP_QUALITY_PROBABILISTIC_SHARE to block" in checks["probabilistic_share_in_band"].reason
    assert checks["probabilistic_share_near_previous_run"].observed == 0


def test_a_frequent_shopper_above_the_cap_kept_to_exact_links_warns_and_a_scored_giant_blocks(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # 80 till tickets on one loyalty card: above the cap of 60, so the resolver kept the cluster to
    # its exact links (identity.flagged_clusters). One person, not a chain: a warning to look at.
    resolved(con, probabilistic=0, singleton=0)
    con.execute(
        "update identity.customer_source_records set customer_id = 'C_CARD', in_flagged_cluster = true "
        "where unique_id in (select unique_id from identity.customer_source_records order by unique_id "
        "limit 80)"
    )
    checks = identity_checks(con)
    assert failed(checks) == {"no_flagged_cluster": "warning"}
    assert 'customer_id "C_CARD", records 80' in checks["no_flagged_cluster"].reason
    # The same size made of links the resolver should have refused is blocking.
    con.execute("update identity.customer_source_records set in_flagged_cluster = false")
    assert failed(identity_checks(con)) == {"no_cluster_above_cap": "critical"}


def test_a_jump_of_a_share_since_the_previous_run_fails_the_blocking_check(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved(con, probabilistic=5, singleton=10)
    record_resolution_run(con, "run-1")
    resolved(con, probabilistic=20, singleton=10)  # +15 points: e-mails vanished from an export
    record_resolution_run(con, "run-2")
    checks = identity_checks(con)
    assert failed(checks) == {"probabilistic_share_near_previous_run": "critical"}
    jump = checks["probabilistic_share_near_previous_run"]
    assert jump.observed == pytest.approx(0.15)
    assert "at most 10 points since the previous identity run" in jump.reason
    monkeypatch.setenv("CDP_QUALITY_IDENTITY_MAX_JUMP", "0.20")
    assert failed(identity_checks(con)) == {}
    monkeypatch.delenv("CDP_QUALITY_IDENTITY_MAX_JUMP")
    # The next run compares with run-2: 10 points up (the limit, included) and 2 points up pass.
    resolved(con, probabilistic=30, singleton=12)
    record_resolution_run(con, "run-3")
    assert failed(identity_checks(con)) == {}
    # A drop counts as much as a rise: singletons from 12 % to 0 %.
    resolved(con, probabilistic=30, singleton=0)
    record_resolution_run(con, "run-4")
    checks = identity_checks(con)
    assert failed(checks) == {"singleton_share_near_previous_run": "critical"}
    assert checks["singleton_share_near_previous_run"].observed == pytest.approx(-0.12)


def test_a_drop_of_an_accuracy_estimate_since_the_previous_run_warns(con: duckdb.DuckDBPyConnection) -> None:
    resolved(con, probabilistic=5, singleton=10)
    con.execute(ESTIMATES_DDL)
    insert = (
        "insert into identity.accuracy_estimates (run_id, estimated_at, estimated_recall, known_pairs, "
        "hidden_key_recall, expected_precision, links, pairs) "
        "values (?, now() + to_seconds(?), ?, 100, 0.99, ?, 50, 80)"
    )
    con.execute(insert, ["run-1", 0, 0.98, 0.995])
    assert failed(identity_checks(con)) == {}
    # Recall estimated 3 points lower: a warning, not a stop; precision up a little passes.
    con.execute(insert, ["run-2", 1, 0.95, 0.997])
    checks = identity_checks(con)
    assert failed(checks) == {"estimated_recall_near_previous_run": "warning"}
    assert checks["estimated_recall_near_previous_run"].observed == pytest.approx(-0.03)
    # The next run compares with run-2: precision 1.5 points lower is within the 2 allowed.
    con.execute(insert, ["run-3", 2, 0.95, 0.982])
    assert failed(identity_checks(con)) == {}


def test_a_band_the_user_sets_is_blocking_again(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocking = {
        spec.name: spec.blocking
        for spec in build_suite_checks("checks_identity", [identity_suite()]).check_specs
    }
    assert not blocking["probabilistic_share_in_band"] and not blocking["singleton_share_in_band"]
    monkeypatch.setenv("CDP_QUALITY_PROBABILISTIC_SHARE", "0.0,0.30")
    blocking = {
        spec.name: spec.blocking
        for spec in build_suite_checks("checks_identity", [identity_suite()]).check_specs
    }
    assert blocking["probabilistic_share_in_band"] and not blocking["singleton_share_in_band"]
    resolved(con, probabilistic=60, singleton=10)
    record_resolution_run(con, "run-1")
    checks = identity_checks(con)
    assert failed(checks) == {"probabilistic_share_in_band": "critical"}
    assert (
        'in [0.0, 0.3] (CDP_QUALITY_PROBABILISTIC_SHARE)" does not hold: observed 0.6'
        in checks["probabilistic_share_in_band"].reason
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CDP_QUALITY_IDENTITY_MAX_JUMP", "10"), ("CDP_QUALITY_SINGLETON_SHARE", "0.5")],
)
def test_a_bad_threshold_is_an_error_that_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        get_quality_settings()


def test_the_raw_scope_is_the_loads_after_the_last_passed_checks_or_else_the_newest_load() -> None:
    from orchestration.quality import scope

    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.t (id int, _loaded_at timestamptz)")
    suite = Suite(("raw", "t"), "select * from raw.t", ())

    def load(ids: list[int], at: str) -> None:
        con.executemany("insert into raw.t values (?, ?::timestamptz)", [(i, at) for i in ids])

    def ids_in(scoped: Suite) -> list[int]:
        return sorted(r[0] for r in con.execute(f"select id from ({scoped.query})").fetchall())

    load([1, 2], "2026-11-01 10:00+00")
    assert scope.scoped(con, suite, every_row=False) == (suite, "every row")  # never checked
    scope.record_checked(con, "t", "run-1")
    load([3], "2026-11-02 10:00+00")
    load([4], "2026-11-02 11:00+00")
    scoped, words = scope.scoped(con, suite, every_row=False)
    assert ids_in(scoped) == [3, 4] and words.startswith("rows loaded after 2026-11-01 10:00:00")
    scope.record_checked(con, "t", "run-2")
    scoped, words = scope.scoped(con, suite, every_row=False)  # nothing new: the newest load again
    assert ids_in(scoped) == [4] and words.startswith("the newest load (2026-11-02 11:00:00")
    assert scope.scoped(con, suite, every_row=True) == (suite, "every row")
