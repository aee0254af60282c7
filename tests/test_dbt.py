"""dbt models as Dagster assets: the whole pipeline builds the customer 360 and unified facts.

One full run (raw → identity → dbt) on the tiny generated data with one unreadable till ticket
added (the session fixture ``pipeline`` in conftest); then assertions a BI user or analyst would make.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import statistics
import subprocess
import time
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import dagster_dbt.core.resource
import duckdb
import pytest
from dagster_dbt import DbtCliResource
from packaging import version

from orchestration.definitions import build_definitions
from orchestration.lib.dbt import dbt_cli, dbt_executable, ensure_manifest
from orchestration.lib.dbt_project import DBT_PROJECT_DIR, built_project_artifacts, drop_orphaned_models
from orchestration.quality.suites import FRACTION
from tests.conftest import query

MODELS = {
    "dim_customers", "dim_customer_consents", "dim_customer_data_retention", "dim_stores",
    "bridge_customer_source_records", "fct_orders", "fct_order_lines", "fct_web_sessions",
    "fct_service_tickets", "fct_survey_responses", "fct_touchpoints",
}  # fmt: skip
KPI_MARTS = {
    "mart_multichannel_customers", "mart_channel_count_distribution", "mart_channel_combinations",
    "mart_value_by_channel_count", "mart_satisfaction", "mart_satisfaction_by_period",
    "mart_service_contacts", "mart_service_contacts_by_contact_channel", "mart_click_and_collect",
    "mart_retention", "mart_retention_by_segment", "mart_cohort_retention",
    "mart_cohort_retention_by_segment", "mart_cost_to_serve", "mart_customer_profitability",
    "mart_cost_to_serve_by_channel_count", "mart_channel_transitions",
    "mart_channel_transitions_by_period", "mart_purchase_paths", "mart_purchase_paths_by_period",
    "mart_journey_dropoffs", "mart_cross_channel_purchases", "mart_verbatim_themes",
    "mart_verbatim_themes_by_period", "mart_verbatim_themes_by_touchpoint",
    "mart_verbatim_themes_by_period_and_touchpoint", "mart_fulfilment_modes",
    "mart_spend_by_purchase_channels", "mart_lifecycle_stages", "mart_checkout_funnel",
    "mart_net_revenue", "mart_cost_per_order", "mart_kpi_restatements",
    "mart_clv_window", "mart_clv_buyers", "mart_value_by_channel_count_and_tenure",
}  # fmt: skip


def test_dbt_steps_do_not_run_dbt_version_which_asks_pypi(monkeypatch: pytest.MonkeyPatch) -> None:
    """dagster-dbt runs ``dbt --version`` before each command, and dbt then asks PyPI for its latest
    release: our resource reads the installed dbt-core's version instead, with no subprocess."""
    # The dagster-dbt hook overridden is still the one it calls: a rename would silently restore it.
    assert "_cli_version" in vars(DbtCliResource)
    calls: list[object] = []
    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", lambda *a, **k: calls.append(a))
    assert dbt_cli()._cli_version == version.parse(importlib.metadata.version("dbt-core"))
    assert calls == []


def test_dbt_models_are_assets_grouped_by_folder_with_checks_and_upstream_lineage() -> None:
    graph = build_definitions().resolve_asset_graph()
    for name in MODELS:
        node = graph.get(dg.AssetKey(["marts", name]))
        assert node.group_name == "marts_core"
        assert {"dbt", "duckdb"} <= node.kinds
        assert node.description
    for name in KPI_MARTS:
        assert graph.get(dg.AssetKey(["marts", name])).group_name == "marts_kpi"
    seeds = ("interaction_unit_costs", "verbatim_themes", "verbatim_theme_terms", "verbatim_sentiment_terms")
    for seed in seeds:
        node = graph.get(dg.AssetKey(["reference", seed]))
        assert node.group_name == "reference"
        assert node.tags["layer"] == "reference"
    snapshot = graph.get(dg.AssetKey(["snapshots", "kpi_closed_periods"]))
    assert (snapshot.group_name, snapshot.tags["layer"]) == ("snapshots", "snapshots")
    assert dg.AssetKey(["marts", "mart_multichannel_customers"]) in snapshot.parent_keys
    costs = graph.get(dg.AssetKey(["intermediate", "int_touchpoint_costs"]))
    assert costs.group_name == "intermediate_touchpoints"
    assert dg.AssetKey(["reference", "interaction_unit_costs"]) in costs.parent_keys
    staging = graph.get(dg.AssetKey(["staging", "stg_pos__tickets"]))
    assert staging.group_name == "staging_pos"
    assert dg.AssetKey(["raw", "pos_tickets"]) in staging.parent_keys
    identity = graph.get(dg.AssetKey(["staging", "stg_identity__customer_source_records"]))
    assert dg.AssetKey(["identity", "customer_source_records"]) in identity.parent_keys
    checks = {c.name for c in graph.asset_check_keys if c.asset_key == dg.AssetKey(["marts", "fct_orders"])}
    assert {"unique_fct_orders_order_id", "assert_orders_reconcile_with_raw"} <= checks


NOT_A_SAMPLE_ESTIMATE = re.compile(r"not a sample estimate\W+\w+", re.IGNORECASE)


def test_every_kpi_rate_has_an_interval_or_says_it_is_not_a_sample_estimate() -> None:
    """A rate on a small base moves by chance: a reader must see its 95 % interval and whether it
    is reliable, or be told why none applies (a census, a mix, coverage). Read from the dbt docs,
    so a new KPI mart is held to it as soon as it is documented (docs/kpis.md, block rate_intervals)."""
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    missing, reviewed = [], set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["fqn"][1:3] != ["marts", "kpi"]:
            continue
        columns = node["columns"]
        for column, doc in columns.items():
            if not FRACTION.search(column) or column.endswith(("_ci_low", "_ci_high")):
                continue  # not a rate, or the bound of one
            has_interval = {f"{column}_ci_low", f"{column}_ci_high", f"{column}_is_reliable"} <= set(columns)
            if has_interval or NOT_A_SAMPLE_ESTIMATE.search(doc.get("description", "")):
                reviewed.add((node["name"], column))
            else:
                missing.append((node["name"], column))
    assert len(reviewed) > 30
    assert sorted(missing) == []


def test_full_run_builds_every_model_and_every_dbt_test_passes(pipeline) -> None:
    _, result = pipeline
    assert result.success
    built = {m.asset_key.path[-1] for m in result.asset_materializations_for_node("cdp_dbt_models")}
    assert built >= MODELS | KPI_MARTS
    checks = [
        c
        for c in result.get_asset_check_evaluations()
        if c.asset_key.path[0] in ("staging", "intermediate", "marts")
    ]
    assert len(checks) > 90
    assert [c.check_name for c in checks if not c.passed] == []


def test_every_period_mart_says_whether_its_period_had_ended(pipeline) -> None:
    """A period still running at the data's as-of date holds part of its events: every published
    table with a period_start says so."""
    tables = query(
        pipeline[0],
        "select table_name from information_schema.columns "
        "where table_schema = 'marts' and column_name = 'period_start' order by 1",
    )
    flagged = query(
        pipeline[0],
        "select table_name from information_schema.columns "
        "where table_schema = 'marts' and column_name = 'is_partial_period' order by 1",
    )
    # Cohort marts flag the period they observe (cohort + periods since) without a period_start.
    assert len(tables) >= 15 and set(tables) <= set(flagged)
    # Only the latest period can be running at as_of.
    partial_before_latest = query(
        pipeline[0],
        "select count(*) filter (where is_partial_period and period_start < (select max(period_start) "
        "from marts.mart_multichannel_customers)) from marts.mart_multichannel_customers",
    )[0][0]
    assert partial_before_latest == 0


def test_revenue_and_order_counts_equal_raw_minus_quarantine(pipeline) -> None:
    settings, _ = pipeline
    (quarantined,) = query(
        settings, "select count(*) from raw.quarantine_rows where table_name = 'pos_tickets'"
    )[0]
    assert quarantined == 1  # the bad ticket, which must not reach the marts
    read, loaded = query(
        settings,
        "select sum(rows_read), sum(rows_loaded) from raw.load_log where table_name = 'pos_tickets'",
    )[0]
    assert read == loaded + quarantined
    raw = query(
        settings,
        """
        select
            (select count(*) from raw.pos_tickets where type_ticket = 'VENTE')
            + (select count(*) from raw.ecommerce_orders),
            (select sum(montant_ttc) from raw.pos_tickets)
            + (select sum(total - refunded_amount) from raw.ecommerce_orders)
        """,
    )[0]
    marts = query(
        settings,
        "select count(*) filter (where order_type = 'sale'), sum(net_amount) from marts.fct_orders",
    )[0]
    assert marts == raw
    by_line = query(
        settings,
        """
        select count(*) from marts.fct_orders o
        where o.source_system = 'pos'
          and o.amount <> (select sum(line_amount) from marts.fct_order_lines l where l.order_id = o.order_id)
        """,
    )
    assert by_line == [(0,)]
    assert query(settings, "select count(*) from marts.fct_orders where order_id like 'MBAD%'") == [(0,)]


def test_customer_360_has_one_row_per_resolved_customer_with_their_activity(pipeline) -> None:
    settings, _ = pipeline
    (customers,) = query(
        settings, "select count(distinct customer_id) from identity.customer_source_records"
    )[0]
    assert query(settings, "select count(*), count(distinct customer_id) from marts.dim_customers") == [
        (customers, customers)
    ]
    # Lifetime revenue per customer adds up to the net amounts fct_orders attributes to a customer
    # (a return counts for the customer of the sale it returns), orders to their identified sales.
    assert query(settings, "select sum(lifetime_revenue), sum(orders) from marts.dim_customers") == query(
        settings,
        "select sum(net_amount) filter (where revenue_customer_id is not null),"
        " count(*) filter (where order_type = 'sale' and customer_id is not null) from marts.fct_orders",
    )
    # Interaction channels are the distinct non-survey channels of the customer's touchpoints;
    # omnichannel means bought in store and online (click & collect is ordered online).
    mismatched = query(
        settings,
        """
        select count(*) from marts.dim_customers d
        where interaction_channel_count <> (
            select count(distinct channel) from marts.fct_touchpoints t
            where t.customer_id = d.customer_id and t.touchpoint_type <> 'survey'
        ) or is_multichannel <> (interaction_channel_count >= 2)
        or is_omnichannel <> (store_orders > 0 and web_orders + click_and_collect_orders > 0)
        or (lifecycle_stage = 'prospect') <> (orders = 0)
        """,
    )
    assert mismatched == [(0,)]
    # A loyalty card on a CRM contact reaches its customer's golden record.
    missing_cards = query(
        settings,
        """
        select count(*) from raw.crm_contacts c
        join identity.customer_source_records r
          on r.source_system = 'crm_contacts' and r.source_record_id = c.contact_id
        join marts.dim_customers d using (customer_id)
        where c.loyalty_card_number is not null and d.loyalty_card is null
        """,
    )
    assert missing_cards == [(0,)]


def test_touchpoints_cover_every_interaction_once(pipeline) -> None:
    settings, _ = pipeline
    expected = query(
        settings,
        """
        select
            (select count(distinct session_id) from raw.ecommerce_web_events)
            + (select count(distinct session_id) from raw.ecommerce_web_events
               where event_type = 'add_to_cart')
            + (select count(*) from raw.pos_tickets) + (select count(*) from raw.ecommerce_orders)
            + (select count(*) from raw.ecommerce_orders where collected_at is not null)
            + (select count(*) from raw.crm_tickets) + (select count(*) from raw.survey_responses)
        """,
    )
    assert query(settings, "select count(*) from marts.fct_touchpoints") == expected
    # Numbered 1..n per customer, in time order.
    gaps = query(
        settings,
        """
        select count(*) from (
            select customer_id, max(customer_touchpoint_number) as n, count(*) as c
            from marts.fct_touchpoints where customer_id is not null group by 1
        ) where n <> c
        """,
    )
    assert gaps == [(0,)]


def test_dbt_build_and_docs_work_standalone_in_the_project_folder(pipeline, tmp_path: Path) -> None:
    settings, _ = pipeline
    env = {**os.environ, "CDP_DATA_DIR": str(settings.data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    for command in (["build"], ["docs", "generate"]):
        done = subprocess.run(
            [
                dbt_executable(),
                *command,
                "--target-path",
                str(tmp_path / "target"),
                "--log-path",
                str(tmp_path),
            ],
            cwd=DBT_PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "target" / "catalog.json").exists()


def test_only_the_latest_dbt_invocation_keeps_its_target_folder(pipeline) -> None:
    """dagster-dbt writes a target folder per invocation; old ones would pile up run after run.
    They live in the data folder, so that no other data folder's run removes them."""
    settings, _ = pipeline
    folders = list(settings.dbt_target_dir.glob("cdp_dbt_models-*"))
    assert len(folders) == 1 and (folders[0] / "run_results.json").exists()


def _marts(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    tables = con.execute(
        "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
    ).fetchall()
    return {t: con.execute(f"select * from marts.{t} order by all").fetchall() for (t,) in tables}


def test_marts_do_not_depend_on_the_day_the_run_happens(pipeline, tmp_path: Path) -> None:
    """Every model reads "now" from int_data_window.as_of (var as_of, else the latest event in the
    data), never from the wall clock: the marts built by the pipeline's run, which let as_of
    default, equal byte for byte those built with the same instant given explicitly, and no model
    calls now() or current_date."""
    settings, _ = pipeline
    copy = tmp_path / "cdp" / "warehouse" / "cdp.duckdb"
    copy.parent.mkdir(parents=True)
    shutil.copy(settings.warehouse_path, copy)
    con = duckdb.connect(str(copy))
    before = _marts(con)
    ((latest, source),) = con.execute(
        "select strftime(as_of, '%Y-%m-%dT%H:%M:%S.%fZ'), as_of_source from intermediate.int_data_window"
    ).fetchall()
    con.close()
    assert source == "latest event in the data"
    env = {**os.environ, "CDP_DATA_DIR": str(tmp_path / "cdp"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run(
        [dbt_executable(), "run", "--select", "int_data_window+", "--vars", f"{{as_of: '{latest}'}}",
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    con = duckdb.connect(str(copy), read_only=True)
    assert con.execute("select as_of_source from intermediate.int_data_window").fetchall() == [("var as_of",)]
    after = _marts(con)
    con.close()
    assert after.keys() == before.keys() and all(after[t] == before[t] for t in before)
    wall_clock = re.compile(r"\b(now\s*\(|current_date|current_timestamp|today\s*\()", re.I)
    models = [*(DBT_PROJECT_DIR / "models").rglob("*.sql"), *(DBT_PROJECT_DIR / "macros").rglob("*.sql")]
    assert [m.name for m in models if wall_clock.search(m.read_text(encoding="utf-8"))] == []


def test_the_docs_show_every_model_compiled_with_the_warehouse_catalog(pipeline) -> None:
    settings, _ = pipeline
    docs = settings.serving_dir / "dbt_docs"
    manifest = json.loads((docs / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert set(models) >= MODELS | KPI_MARTS
    assert [name for name, node in models.items() if not node.get("compiled_code")] == []
    catalog = json.loads((docs / "catalog.json").read_text())["nodes"]
    assert "customer_id" in catalog["model.cdp.dim_customers"]["columns"]
    page = (docs / "index.html").read_text()
    assert "dim_customers" in page and "compiled_code" in page


def test_docs_reuse_a_builds_compiled_project_only_while_it_is_current(tmp_path: Path) -> None:
    """The docs step copies the last build's manifest instead of compiling again: only when that
    manifest is newer than every project file and compiled every model."""
    project = SimpleNamespace(project_dir=tmp_path / "project", target_path=Path("target"))  # as DbtProject
    model = project.project_dir / "models" / "dim.sql"
    model.parent.mkdir(parents=True)
    model.write_text("select 1 as id")
    (project.project_dir / "dbt_project.yml").write_text("name: cdp")
    root = tmp_path / "cdp" / "dbt"  # the data folder's dbt folder
    assert built_project_artifacts(root, project.project_dir) is None  # no build yet

    def build(name: str, compiled: bool) -> Path:
        folder = root / f"cdp_dbt_models-{name}"
        folder.mkdir(parents=True)
        code = "select 1 as id" if compiled else None
        node = {"resource_type": "model", "name": "dim", "compiled_code": code}
        (folder / "manifest.json").write_text(json.dumps({"nodes": {"model.cdp.dim": node}}))
        return folder

    time.sleep(0.01)
    whole = build("a", compiled=True)
    assert built_project_artifacts(root, project.project_dir) == whole
    time.sleep(0.01)
    assert built_project_artifacts(root, project.project_dir) == whole
    subset = build("b", compiled=False)  # a build of a subset: the model was not compiled
    assert built_project_artifacts(root, project.project_dir) is None
    subset.rename(subset.with_name("old"))
    time.sleep(0.01)
    model.write_text("select 2 as id")  # an analyst edits the model after the build
    assert built_project_artifacts(root, project.project_dir) is None


def test_a_dbt_step_starts_from_the_project_the_previous_step_parsed(
    pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt parses the whole project again when the parsed project it starts from was written with
    another profile (here: another CDP_DATA_DIR, as any test or second installation leaves it);
    the build leaves its own parse for the next step, which then only checks what changed."""
    from orchestration.defs.dbt import cdp_dbt_models
    from orchestration.defs.resources import build_resources
    from orchestration.settings import get_settings

    clean, _ = pipeline
    shutil.copytree(clean.data_dir, tmp_path / "cdp", ignore=shutil.ignore_patterns("dagster"))
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "cdp"))
    settings = get_settings()

    def build_one_view() -> str:
        result = dg.materialize(
            [cdp_dbt_models],
            selection=[dg.AssetKey(["staging", "stg_pos__stores"])],
            resources=build_resources(settings),
        )
        assert result.success
        (target,) = settings.dbt_target_dir.glob("cdp_dbt_models-*")
        return (target / "dbt.log").read_text(encoding="utf-8")

    (clean_build,) = clean.dbt_target_dir.glob("cdp_dbt_models-*")
    assert "Unable to do partial parsing because profile has changed" in build_one_view()
    assert "Unable to do partial parsing" not in build_one_view()
    # Another data folder's builds removed nothing of the first one's (they used to share a folder).
    assert (clean_build / "run_results.json").exists()


def test_customer_segments_match_a_recount_from_the_orders(pipeline) -> None:
    """Every customer has one segment row; the churn flag, purchase rhythm and preferred channel
    recomputed here in Python from fct_orders agree with the model."""
    settings, _ = pipeline
    ((as_of,),) = query(settings, "select as_of from intermediate.int_data_window")
    sales: dict[str, list] = {}
    for customer, channel, at in query(
        settings,
        "select customer_id, channel, ordered_at from marts.fct_orders "
        "where order_type = 'sale' and customer_id is not null order by ordered_at",
    ):
        sales.setdefault(customer, []).append((channel, at))
    segments = {
        row[0]: row[1:]
        for row in query(
            settings,
            "select customer_id, is_churn_risk, median_days_between_purchases, preferred_channel, frequency "
            "from marts.mart_customer_segments",
        )
    }
    assert segments.keys() == {c for (c,) in query(settings, "select customer_id from marts.dim_customers")}
    for customer, (churn, rhythm, channel, frequency) in segments.items():
        purchases = sales.get(customer, [])
        assert frequency == len(purchases)
        if len(purchases) < 2:
            assert rhythm is None and churn is False
            continue
        # Days as the models count them: calendar days in UTC (the dbt session's time zone).
        days = [(_utc_day(b) - _utc_day(a)).days for (_, a), (_, b) in pairwise(purchases)]
        assert rhythm == statistics.median(days), customer
        recency = (_utc_day(as_of) - _utc_day(purchases[-1][1])).days
        assert churn == (recency > 2 * statistics.median(days)), customer
        counts = Counter(c for c, _ in purchases)
        assert counts[channel] == max(counts.values()), customer
    assert any(flag for flag, *_ in segments.values()), "some customer of the test data is at risk"


def _utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def test_a_whole_build_drops_the_tables_of_models_the_project_no_longer_has() -> None:
    """A renamed mart's old table would stay in the warehouse forever, never refreshed (an erasure
    would leave the person in it): after a whole build, what no model, seed or snapshot builds in
    dbt's schemas goes; other schemas (raw, identity, failing rows of tests) are never touched."""
    con = duckdb.connect()
    for schema in ("marts", "reference", "identity", "test_failures"):
        con.execute(f"create schema {schema}")
    con.execute("create table marts.bridge_customer_source_records as select 1 as id")
    con.execute("create table marts.customer_source_records as select 1 as id")  # the old name
    con.execute("create view marts.old_view as select 1 as id")
    con.execute("create table reference.interaction_unit_costs as select 1 as id")
    con.execute("create table identity.customer_source_records as select 1 as id")
    con.execute("create table test_failures.not_null_x as select 1 as id")
    manifest = {
        "nodes": {
            "model.cdp.bridge": {
                "resource_type": "model", "schema": "marts", "name": "bridge_customer_source_records",
            },
            "seed.cdp.costs": {
                "resource_type": "seed", "schema": "reference", "name": "interaction_unit_costs",
            },
            "test.cdp.not_null_x": {"resource_type": "test", "schema": "test_failures", "name": "not_null_x"},
        }
    }  # fmt: skip

    assert drop_orphaned_models(con, manifest) == ["marts.customer_source_records", "marts.old_view"]
    left = con.execute("select table_schema || '.' || table_name from information_schema.tables order by 1")
    assert [r[0] for r in left.fetchall()] == [
        "identity.customer_source_records",
        "marts.bridge_customer_source_records",
        "reference.interaction_unit_costs",
        "test_failures.not_null_x",
    ]
    assert drop_orphaned_models(con, manifest) == []  # nothing left to drop


HEADLINE_KPIS = """
    select m.period_start, m.multichannel_rate, m.omnichannel_rate, r.retention_rate_12m,
        (select sum(net_revenue) from marts.mart_net_revenue n where n.period_start = m.period_start),
        (select sum(net_revenue_ht) from marts.mart_net_revenue n where n.period_start = m.period_start),
        m.buyers, m.active_customers
    from marts.mart_multichannel_customers m
    left join marts.mart_retention r on r.period_start = m.period_start
    where not m.is_partial_period
"""
HEADLINE_NAMES = (
    "multichannel_rate", "omnichannel_rate", "retention_rate_12m", "net_revenue", "net_revenue_ht", "buyers",
    "active_customers",
)  # fmt: skip


def _headline(con: duckdb.DuckDBPyConnection) -> dict[tuple[date, str], Decimal | None]:
    """The headline KPIs of every closed period, read from the marts themselves, by period and KPI."""
    return {
        (row[0], name): None if value is None else Decimal(str(value)).quantize(Decimal("0.0001"))
        for row in con.execute(HEADLINE_KPIS).fetchall()
        for name, value in zip(HEADLINE_NAMES, row[1:], strict=True)
    }


def test_closed_periods_are_snapshotted_and_identity_restatements_reported(pipeline, tmp_path: Path) -> None:
    """The pipeline's dbt build snapshots the headline KPIs of every closed period. Building the
    same data again adds no version. After identity merges two customers (a store-only and a
    web-only buyer of the same closed month: one multichannel buyer instead of two single-channel
    ones), the next build adds the restated versions, and mart_kpi_restatements reports for every
    closed period and KPI the value first published and the new one, as the marts gave them before
    and after the merge."""
    settings, result = pipeline
    built = {m.asset_key.to_user_string() for m in result.asset_materializations_for_node("cdp_dbt_models")}
    assert "snapshots/kpi_closed_periods" in built
    copy = tmp_path / "cdp" / "warehouse" / "cdp.duckdb"
    copy.parent.mkdir(parents=True)
    shutil.copy(settings.warehouse_path, copy)
    env = {**os.environ, "CDP_DATA_DIR": str(tmp_path / "cdp"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}

    def build() -> int:
        """dbt build as the pipeline runs it (data tests aside: they are not what is tested here);
        the snapshot's version count after it."""
        done = subprocess.run(
            [dbt_executable(), "build", "--exclude-resource-type", "unit_test", "test",
             "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)],
            cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:]
        with duckdb.connect(str(copy), read_only=True) as con:
            return con.execute("select count(*) from snapshots.kpi_closed_periods").fetchone()[0]

    with duckdb.connect(str(copy), read_only=True) as con:
        before = _headline(con)
        published = con.execute("select count(*) from snapshots.kpi_closed_periods").fetchone()[0]
        month, single_store, single_web = con.execute(
            "select s.period_start, s.customer_id, w.customer_id"
            " from intermediate.int_customer_purchases_by_period s"
            " inner join intermediate.int_customer_purchases_by_period w on s.period_start = w.period_start"
            " inner join marts.mart_multichannel_customers m on s.period_start = m.period_start"
            " where s.purchase_channels = ['store'] and w.purchase_channels = ['web']"
            " and not m.is_partial_period order by all desc limit 1"
        ).fetchone()
    assert published == len({period for period, _ in before}) > 0  # one version per closed period
    assert build() == published  # the same data: nothing new

    with duckdb.connect(str(copy)) as con:
        con.execute(
            "update identity.customer_source_records set customer_id = ? where customer_id = ?",
            [single_store, single_web],
        )
    versions = build()
    with duckdb.connect(str(copy), read_only=True) as con:
        after = _headline(con)
        reported = {
            (row[0], row[1]): row[2:]
            for row in con.execute(
                "select period_start, kpi, first_published_value, latest_value, restatement, is_restated"
                " from marts.mart_kpi_restatements"
            ).fetchall()
        }
    assert reported.keys() == before.keys() == after.keys()
    restated_periods = {period for (period, _), (*_, is_restated) in reported.items() if is_restated}
    assert versions == published + len(restated_periods)  # one new version per restated period
    for key, (first, latest, restatement, is_restated) in reported.items():
        assert (first, latest, is_restated) == (before[key], after[key], before[key] != after[key]), key
        if first is not None and latest is not None:
            assert restatement == latest - first, key
    # The merged month: one buyer fewer, one more of them multichannel.
    assert reported[(month, "buyers")][2] == -1
    assert reported[(month, "multichannel_rate")][2] > 0
