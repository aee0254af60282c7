"""Incremental facts and customer-grain models: after a day of new files, the pipeline's
incremental dbt build equals a full rebuild row for row, and a merge of two existing customers
caused by the new day reaches every fact row of both.

On a copy of the session pipeline's data directory, a day of deliveries lands:

- the last week's till tickets and lines, web orders and lines, web events, service tickets and
  survey answers again, a week later under new ids (the same customers come back);
- one more event of an existing web session (a session spanning two deliveries);
- a web order delivered again with a refund on its first line (a new version of a record);
- a till return scanned with customer A's loyalty card that refunds a sale of customer B: two
  exact links (loyalty card, return ticket) make A and B one customer.

The pipeline's raw and identity assets take the day, its dbt step (``dbt build``) runs
incrementally, and a copy of the warehouse it leaves is rebuilt with ``dbt build --full-refresh``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.exports import ALL_TABLES, SOURCES
from orchestration.generate.writers import ExportWriter
from orchestration.lib.dbt import dbt_executable
from orchestration.lib.dbt_project import DBT_PROJECT_DIR
from orchestration.settings import Settings, get_settings
from tests.conftest import FRESH_AS_OF, failed_checks, query

INCREMENTAL_MODELS = (
    "staging.stg_pos__tickets",
    "staging.stg_pos__ticket_lines",
    "staging.stg_ecommerce__orders",
    "staging.stg_ecommerce__order_lines",
    "staging.stg_ecommerce__web_events",
    "intermediate.int_orders_unioned",
    "intermediate.int_order_lines_unioned",
    "intermediate.int_web_sessions_aggregated",
    "marts.fct_orders",
    "marts.fct_order_lines",
    "marts.fct_web_sessions",
    "marts.fct_touchpoints",
)
# Incremental by customer (docs/dbt.md, "Customer-grain models"): a build recomputes the customers
# whose inputs changed (intermediate.int_customer_changes) and only them.
CUSTOMER_GRAIN_MODELS = (
    "intermediate.int_customers_survived",
    "intermediate.int_customer_profiles",
    "intermediate.int_consents_latest",
    "intermediate.int_customer_purchase_features",
    "intermediate.int_customer_purchases_by_period",
    "intermediate.int_customer_channels_by_period",
    "intermediate.int_customer_journey_steps",
    "intermediate.int_purchase_paths",
    "intermediate.int_cross_channel_purchases",
    "marts.dim_customer_consents",
    "marts.mart_customer_profitability",
)
# Facts keyed by their own id, and the intermediate models they copy.
FACT_KEYS = {
    "marts.fct_orders": "order_id",
    "marts.fct_order_lines": "order_line_id",
    "marts.fct_web_sessions": "session_id",
    "marts.fct_touchpoints": "touchpoint_id",
    "intermediate.int_orders_unioned": "order_id",
    "intermediate.int_order_lines_unioned": "order_line_id",
    "intermediate.int_web_sessions_aggregated": "session_id",
}
PARIS = ZoneInfo("Europe/Paris")
SPECS = {spec.table: spec for spec in ALL_TABLES}
NEW = "-N"  # suffix of the ids the new day's copies take
# The tiny data's 300 customers leave some days without a web order: the new day's files bring the
# records of the last week again, a week later.
WEEK = 7


def _copies(table: str, ids: dict[str, str], where: str) -> str:
    """SQL: the rows of ``raw_current.<table>`` selected by ``where``, a week later, ids replaced."""
    columns = []
    for column in SPECS[table].columns:
        name = f'"{column.name}"'
        if column.name in ids:
            columns.append(f"{ids[column.name]} as {name}")
        elif column.type in ("timestamp", "timestamptz"):  # when it happened, not a birth date
            columns.append(f"{name} + interval {WEEK} day as {name}")
        else:
            columns.append(name)
    return f"select {', '.join(columns)} from raw_current.{table} where {where}"


def _renamed(column: str, copied: str) -> str:
    """SQL: the id in ``column``, with the new suffix when it refers to a record copied too."""
    return f"case when {column} in ({copied}) then {column} || '{NEW}' else {column} end"


def _local(value: object) -> object:
    """Exports carry local Paris times: the writer adds the offset to a naive local time."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(PARIS).replace(tzinfo=None)
    return value


def _deliver(landing: Path, day: date, table: str, rows: list[tuple]) -> None:
    """Write ``rows`` (in the export's column order) as the day's file of ``table``."""
    writer = ExportWriter(SPECS[table], landing, history_before=date(1900, 1, 1), daily_from=day)
    for row in rows:
        writer.write(day, tuple(_local(v) for v in row))
    writer.close()


def _new_day(con: duckdb.DuckDBPyConnection, landing: Path) -> dict[str, object]:
    """Write the new day's files into ``landing``; return what the assertions need."""
    (last,) = con.execute("select max(date_heure)::date from raw.pos_tickets").fetchone()
    day = last + timedelta(days=1)
    last_week = "timezone('UTC', {})::date > '" + str(last - timedelta(days=WEEK)) + "'"
    tickets = f"select num_ticket from raw_current.pos_tickets where {last_week.format('date_heure')}"
    orders = f"select order_id from raw_current.ecommerce_orders where {last_week.format('created_at')}"
    service = f"select ticket_id from raw_current.crm_tickets where {last_week.format('created_at')}"
    copies = {
        "pos_tickets": _copies(
            "pos_tickets",
            {
                "num_ticket": f"num_ticket || '{NEW}'",
                "num_ticket_origine": _renamed("num_ticket_origine", tickets),
            },
            f"num_ticket in ({tickets})",
        ),
        "pos_ticket_lines": _copies(
            "pos_ticket_lines", {"num_ticket": f"num_ticket || '{NEW}'"}, f"num_ticket in ({tickets})"
        ),
        "ecommerce_orders": _copies(
            "ecommerce_orders", {"order_id": f"order_id || '{NEW}'"}, f"order_id in ({orders})"
        ),
        "ecommerce_order_lines": _copies(
            "ecommerce_order_lines", {"order_id": f"order_id || '{NEW}'"}, f"order_id in ({orders})"
        ),
        "ecommerce_web_events": _copies(
            "ecommerce_web_events",
            {
                "event_id": f"event_id || '{NEW}'",
                "session_id": f"session_id || '{NEW}'",
                "order_id": _renamed("order_id", orders),
            },
            last_week.format("event_at"),
        ),
        "crm_tickets": _copies(
            "crm_tickets",
            {
                "ticket_id": f"ticket_id || '{NEW}'",
                "order_ref": _renamed("order_ref", f"{orders} union {tickets}"),
            },
            f"ticket_id in ({service})",
        ),
        "survey_responses": _copies(
            "survey_responses",
            {
                "response_id": f"response_id || '{NEW}'",
                "order_ref": _renamed("order_ref", f"{orders} union {tickets}"),
                "ticket_ref": _renamed("ticket_ref", service),
            },
            last_week.format("submitted_at"),
        ),
    }
    rows = {table: con.execute(sql).fetchall() for table, sql in copies.items()}
    assert all(rows.values()), {t: len(r) for t, r in rows.items()}  # a day of every kind of record
    copied_orders = len(rows["pos_tickets"]) + len(rows["ecommerce_orders"])

    # One more event of the last session of the last day, a minute after its last one.
    events = SPECS["ecommerce_web_events"].column_names
    session_id, visitor_id, ended_at = con.execute(
        "select session_id, any_value(visitor_id), max(event_at) from raw_current.ecommerce_web_events "
        "group by session_id order by 3 desc, 1 limit 1"
    ).fetchone()
    event = dict.fromkeys(events)
    event.update(
        event_id=f"continued{NEW}",
        event_type="product_view",
        event_at=ended_at + timedelta(minutes=1),
        visitor_id=visitor_id,
        session_id=session_id,
    )
    rows["ecommerce_web_events"].append(tuple(event[c] for c in events))

    # A web order of an earlier day delivered again: its first line refunded.
    order_columns, line_columns = (
        SPECS["ecommerce_orders"].column_names,
        SPECS["ecommerce_order_lines"].column_names,
    )
    refunded_order = con.execute(
        f"""
        select {", ".join(f'o."{c}"' for c in order_columns)} from raw_current.ecommerce_orders o
        where coalesce(o.refunded_amount, 0) = 0 and o.order_id not in ({orders})
          and o.order_id in (select order_id from raw_current.ecommerce_order_lines where line_number = 1)
        order by o.order_id limit 1
        """
    ).fetchone()
    order = dict(zip(order_columns, refunded_order, strict=True))
    line = dict(
        zip(
            line_columns,
            con.execute(
                f"select {', '.join(line_columns)} from raw_current.ecommerce_order_lines "
                "where order_id = ? and line_number = 1",
                [order["order_id"]],
            ).fetchone(),
            strict=True,
        )
    )
    order.update(financial_status="partially_refunded", refunded_amount=line["line_total"])
    line.update(refunded_quantity=line["quantity"])
    rows["ecommerce_orders"].append(tuple(order[c] for c in order_columns))
    rows["ecommerce_order_lines"].append(tuple(line[c] for c in line_columns))

    # The merge: A holds a loyalty card (CRM contact), B bought at a till; both bought and were seen
    # on the web. Together they carry at most one birth date and one phone: a conflict would make
    # identity refuse their scored links and split them again (its decision, tested elsewhere).
    customer_a, contact, card, customer_b, sale, store = con.execute(
        """
        with attributes as (
            select
                r.customer_id,
                list_filter(list(distinct i.birth_date), lambda d: d is not null) as birth_dates,
                list_filter(list(distinct i.phone), lambda p: p is not null) as phones
            from identity.customer_source_records r
            join identity.records i on i.unique_id = r.unique_id
            group by r.customer_id
        ),
        card_holders as (
            select r.customer_id, r.unique_id, c.loyalty_card_number
            from raw_current.crm_contacts c
            join identity.customer_source_records r
                on r.source_system = 'crm_contacts' and r.source_record_id = c.contact_id
            where c.loyalty_card_number is not null
              and r.customer_id in (select customer_id from marts.fct_web_sessions)
              and r.customer_id in (select customer_id from marts.fct_orders)
        ),
        till_buyers as (
            select customer_id, order_id, store_code from marts.fct_orders
            where source_system = 'pos' and order_type = 'sale'
              and customer_id in (select customer_id from marts.fct_web_sessions)
              and order_id not in (
                  select original_order_id from marts.fct_orders where original_order_id is not null
              )
        )
        select a.customer_id, a.unique_id, a.loyalty_card_number, b.customer_id, b.order_id, b.store_code
        from card_holders a
        join attributes x on x.customer_id = a.customer_id
        join till_buyers b on b.customer_id <> a.customer_id
        join attributes y on y.customer_id = b.customer_id
        where len(list_distinct(x.birth_dates || y.birth_dates)) <= 1
          and len(list_distinct(x.phones || y.phones)) <= 1
        order by a.customer_id, b.customer_id, b.order_id
        limit 1
        """
    ).fetchone()
    ticket_columns, ticket_line_columns = (
        SPECS["pos_tickets"].column_names,
        SPECS["pos_ticket_lines"].column_names,
    )
    sale_line = dict(
        zip(
            ticket_line_columns,
            con.execute(
                f"select {', '.join(ticket_line_columns)} from raw_current.pos_ticket_lines "
                "where num_ticket = ? order by num_ligne limit 1",
                [sale],
            ).fetchone(),
            strict=True,
        )
    )
    return_ticket = f"{store}-{day:%Y%m%d}-RETURN{NEW}"
    ticket = dict.fromkeys(ticket_columns)
    ticket.update(
        num_ticket=return_ticket,
        code_magasin=store,
        num_caisse=1,
        date_heure=datetime.combine(day, datetime.min.time()) + timedelta(hours=11),
        type_ticket="RETOUR",
        num_ticket_origine=sale,
        num_carte_fidelite=card,
        montant_ttc=-sale_line["montant_ttc"],
        mode_reglement="CB",
    )
    rows["pos_tickets"].append(tuple(ticket[c] for c in ticket_columns))
    sale_line.update(
        num_ticket=return_ticket, quantite=-sale_line["quantite"], montant_ttc=-sale_line["montant_ttc"]
    )
    rows["pos_ticket_lines"].append(tuple(sale_line[c] for c in ticket_line_columns))

    for table, table_rows in rows.items():
        _deliver(landing, day, table, table_rows)
    return {
        "customers": (customer_a, customer_b),
        "anchors": (contact, f"pos_tickets:{sale}"),
        "return_ticket": return_ticket,
        "session_id": session_id,
        "refunded_order": order["order_id"],
        "refund": order["refunded_amount"],
        "copied_orders": copied_orders,
    }


def _dbt(data_dir: Path, target: Path, *args: str, must_pass: bool = True) -> dict[str, dict]:
    """Run dbt on ``data_dir``'s warehouse as the pipeline's dbt step does; its run results by node
    (with ``must_pass``, after checking that every node passed)."""
    env = {**os.environ, "CDP_DATA_DIR": str(data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run(
        [dbt_executable(), *args, "--exclude-resource-type", "unit_test", "--target-path", str(target),
         "--log-path", str(target)],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0 or not must_pass, done.stdout[-3000:]
    return {r["unique_id"]: r for r in json.loads((target / "run_results.json").read_text())["results"]}


@pytest.fixture(scope="module")
def increment(pipeline, tmp_path_factory: pytest.TempPathFactory):
    """(before, after, full-refresh copy, raw + identity run, dbt run results, the case, facts before)."""
    before, _ = pipeline
    root = tmp_path_factory.mktemp("increment")
    shutil.copytree(before.data_dir, root / "cdp", ignore=shutil.ignore_patterns("dagster"))
    facts_before = {
        model: dict(query(before, f"select {key}, customer_id from {model}"))
        for model, key in FACT_KEYS.items()
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDP_DATA_DIR", str(root / "cdp"))
        mp.setenv("CDP_DUCKDB_THREADS", "2")
        mp.setenv("CDP_DUCKDB_MEMORY_LIMIT", "2GB")
        mp.setenv("CDP_QUALITY_AS_OF", FRESH_AS_OF)
        mp.setenv("CDP_LANDING_SETTLE_SECONDS", "0")
        after = get_settings()
        con = duckdb.connect(str(before.warehouse_path), read_only=True)
        try:
            case = _new_day(con, after.landing_dir)
        finally:
            con.close()
        # The pipeline's raw and identity assets take the day (the definitions' resources read
        # CDP_DATA_DIR now); then its dbt step, `dbt build`, run here so the test knows it is
        # incremental: the models exist and the project did not change (the pipeline's dbt step
        # adds --full-refresh only when it did).
        definitions = build_definitions()
        selection = dg.AssetSelection.groups(*SOURCES, "landing", "identity").resolve(
            definitions.resolve_asset_graph()
        )
        result = definitions.resolve_job_def("full_pipeline").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), asset_selection=list(selection)
        )
        run_results = _dbt(after.data_dir, root / "target", "build")
    # The same warehouse rebuilt from scratch.
    full = Settings(root / "full", after.duckdb_threads, after.duckdb_memory_limit)
    full.warehouse_path.parent.mkdir(parents=True)
    shutil.copy(after.warehouse_path, full.warehouse_path)
    _dbt(full.data_dir, root / "full-target", "build", "--full-refresh")
    yield before, after, full, result, run_results, case, facts_before


def test_the_day_is_loaded_and_the_dbt_build_is_incremental(increment) -> None:
    _, _, _, result, run_results, _, _ = increment
    assert result.success
    assert failed_checks(result) == []
    # Every model and test of the build passed (_dbt checks the exit code); each incremental model
    # compiled its incremental branch, which reads the model itself ({{ this }}): a rebuild never does.
    for model in INCREMENTAL_MODELS:
        node = run_results[f"model.cdp.{model.split('.')[1]}"]
        assert node["status"] == "success"
        assert node["relation_name"] in node["compiled_code"], model
    # Each customer-grain model read only the customers changed since it last applied the changes.
    for model in CUSTOMER_GRAIN_MODELS:
        node = run_results[f"model.cdp.{model.split('.')[1]}"]
        assert node["status"] == "success"
        assert "customer_changes_applied" in node["compiled_code"], model


def test_the_day_recomputes_only_the_customers_whose_inputs_changed(increment) -> None:
    """The new day changes the customers it brings records, facts or a merge for: a part of them,
    including both merged customers, and the customer-grain models applied exactly that change."""
    _, after, _, _, _, case, _ = increment
    latest = "(select max(changed_at) from intermediate.int_customer_changes)"
    changed = {
        c
        for (c,) in _rows(
            after, f"select customer_id from intermediate.int_customer_changes where changed_at = {latest}"
        )
    }
    customers = _rows(
        after, "select count(*) from intermediate.int_customer_changes where fingerprint is not null"
    )[0][0]
    new_day_buyers = {
        c
        for (c,) in _rows(
            after,
            "select distinct customer_id from marts.fct_orders "
            "where order_id like '%-N' and customer_id is not null",
        )
    }
    assert new_day_buyers <= changed
    assert set(case["customers"]) <= changed  # the survivor (recomputed) and the absorbed id (deleted)
    assert 0 < len(changed) < customers / 2, (len(changed), customers)
    applied = dict(_rows(after, "select model_name, applied_through from dbt_state.customer_changes_applied"))
    newest = _rows(after, f"select {latest}")[0][0]
    assert {applied[m.split(".")[1]] for m in CUSTOMER_GRAIN_MODELS} == {newest}


def test_a_days_tests_read_the_changed_customers_and_the_full_suite_every_row(
    increment, tmp_path: Path
) -> None:
    """The trade-off of scoped tests (docs/dbt.md, "Tests of a day"): a row broken outside dbt for a
    customer the day did not change passes the day's scoped test; the full suite fails on it."""
    _, after, _, _, _, _, _ = increment
    broken = Settings(tmp_path / "broken", after.duckdb_threads, after.duckdb_memory_limit)
    broken.warehouse_path.parent.mkdir(parents=True)
    shutil.copy(after.warehouse_path, broken.warehouse_path)
    con = duckdb.connect(str(broken.warehouse_path))
    try:
        con.execute(
            """
            insert into intermediate.int_customer_profiles
            select * from intermediate.int_customer_profiles
            where customer_id = (
                select min(customer_id) from intermediate.int_customer_changes
                where changed_at < (select max(changed_at) from intermediate.int_customer_changes)
                  and fingerprint is not null
            )
            """
        )
    finally:
        con.close()
    select = ["--select", "unique_int_customer_profiles_customer_id"]
    scoped = _dbt_test(broken.data_dir, tmp_path / "scoped", *select)
    assert scoped == {"unique_int_customer_profiles_customer_id": "pass"}
    full = _dbt_test(broken.data_dir, tmp_path / "full", *select, "--vars", "{test_scope: all}")
    assert full == {"unique_int_customer_profiles_customer_id": "fail"}
    # The weekly job (and `cdp check --all`) runs every test on every row: it fails, naming it.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDP_DATA_DIR", str(broken.data_dir))
        result = (
            build_definitions()
            .resolve_job_def("dbt_tests_every_row")
            .execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "unique_int_customer_profiles_customer_id" in failure.step_failure_data.error.message


def _dbt_test(data_dir: Path, target: Path, *args: str) -> dict[str, str]:
    """``dbt test`` on ``data_dir``'s warehouse, failures allowed: each test's status (hooks left out)."""
    results = _dbt(data_dir, target, "test", *args, must_pass=False)
    return {key.split(".")[2]: r["status"] for key, r in results.items() if key.startswith("test.")}


def test_incremental_build_equals_a_full_rebuild_row_for_row(increment) -> None:
    _, after, full, _, _, _, _ = increment
    con = duckdb.connect()
    con.execute(f"attach '{after.warehouse_path}' as incremental (read_only)")
    con.execute(f"attach '{full.warehouse_path}' as rebuilt (read_only)")
    tables = [
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'rebuilt' "
            "and schema_name in ('staging', 'intermediate', 'marts') order by all"
        ).fetchall()
    ]
    assert set(INCREMENTAL_MODELS) | set(CUSTOMER_GRAIN_MODELS) <= set(tables)
    differences = {}
    for table in tables:
        # int_customer_changes says when each customer last changed (a build's start): compared on
        # the fingerprints of the customers that exist (the incremental one also keeps those gone).
        rows_of = (
            "(select customer_id, fingerprint, input_rows from {}.intermediate.int_customer_changes "
            "where fingerprint is not null)"
            if table == "intermediate.int_customer_changes"
            else "{}." + table
        )
        incremental, rebuilt = rows_of.format("incremental"), rows_of.format("rebuilt")
        only_incremental, only_rebuilt, rows = con.execute(
            f"""
            select
                (select count(*) from (from {incremental} except all from {rebuilt})),
                (select count(*) from (from {rebuilt} except all from {incremental})),
                (select count(*) from {rebuilt})
            """
        ).fetchone()
        assert rows > 0, table
        if only_incremental or only_rebuilt:
            differences[table] = (only_incremental, only_rebuilt)
    con.close()
    assert differences == {}


def test_the_new_day_reaches_the_facts(increment) -> None:
    before, after, _, _, _, case, _ = increment
    sql = "select count(*) filter (where order_id like '%-N'), sum(net_amount) from marts.fct_orders"
    (new_before, revenue_before), (new_after, revenue_after) = query(before, sql)[0], query(after, sql)[0]
    assert new_before == 0 and new_after == case["copied_orders"] + 1  # the copies and the return
    session = f"select events from marts.fct_web_sessions where session_id = '{case['session_id']}'"
    assert query(after, session)[0][0] == query(before, session)[0][0] + 1
    # The order delivered again replaced its earlier version: one row, the refund on it and its line.
    refunded = case["refunded_order"]
    assert query(
        after,
        f"select count(*), sum(refunded_amount), (select sum(refunded_amount) from marts.fct_order_lines "
        f"where order_id = '{refunded}') from marts.fct_orders where order_id = '{refunded}'",
    ) == [(1, -case["refund"], -case["refund"])]
    assert revenue_after != revenue_before


def _rows(settings: Settings, sql: str, *params: object) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_a_merge_caused_by_the_new_day_reaches_every_fact_of_both_customers(increment) -> None:
    """A's CRM contact and B's till sale are one customer after the day. Identity may also move a
    few records elsewhere in the same run (a split): the facts follow whatever it decided."""
    before, after, _, _, _, case, facts_before = increment
    customers = list(case["customers"])
    bridge = "select distinct customer_id from identity.customer_source_records where unique_id in ?"
    assert len(_rows(before, bridge, list(case["anchors"]))) == 2
    ((survivor,),) = _rows(after, bridge, list(case["anchors"]))
    assert survivor in customers
    (absorbed,) = set(customers) - {survivor}
    history = "select {} from identity.customer_id_history where change = '{}' and {} = ?"
    assert _rows(after, history.format("into_customer_id", "merged", "customer_id"), absorbed) == [
        (survivor,)
    ]
    split = history.format("customer_id", "split", "into_customer_id")
    split_off = {c for former in customers for (c,) in _rows(after, split, former)}
    # Every fact (orders, lines, sessions, touchpoints, and the intermediate models they copy):
    # rows of both former customers now carry the surviving id (or, moved by a split, the new one);
    # none carries the absorbed id any more.
    for model, key in FACT_KEYS.items():
        now = f"select customer_id from {model} where {key} in ?"
        for former in customers:
            keys = [k for k, c in facts_before[model].items() if c == former]
            assert keys, (model, former)
            assert {c for (c,) in _rows(after, now, keys)} <= {survivor} | split_off, (model, former)
            assert (survivor,) in _rows(after, now, keys), (model, former)
        assert _rows(after, f"select count(*) from {model} where customer_id = ?", absorbed) == [(0,)], model
    # One timeline: the survivor's touchpoints are numbered 1..n without a gap or a repeat.
    n, highest, distinct = _rows(
        after,
        "select count(*), max(customer_touchpoint_number), count(distinct customer_touchpoint_number) "
        "from marts.fct_touchpoints where customer_id = ?",
        survivor,
    )[0]
    assert n == highest == distinct
