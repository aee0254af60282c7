"""as_of is a point-in-time cut: the marts built with as_of = D equal the marts built from the
exports as they stood at D.

The tiny generated exports, with a few records placed across D (a service ticket opened before it
and solved after; a click & collect order ready before it and collected, then partly refunded,
after; one placed before it, ready after it and refunded uncollected; a web session running at
D; a till sale before D returned after it), are loaded and resolved once, and the marts built with
``--vars '{as_of: D}'``. The same exports truncated as an export taken at D would show them (rows
dated after D dropped; solved, ready, collected and refunded states reached after D undone) are
loaded and built again with as_of = D. Every table of the marts schema must be equal row for row.

Identity is held fixed: the truncated warehouse takes the full run's identity tables (records
and customer_source_records) instead of resolving its own records. Who a record belongs to is
identity resolution's answer on every record it read, which as_of does not cut (docs/kpis.md);
what is tested is the dbt cut. Resolving the truncated exports for real (measured on this data
when the test was written) gives the same clusters over the records both runs have, but other
customer ids for 32 of 647 records (ids follow the order records are resolved in), and 20 web
visitors seen before D are no identity record yet (they signed in or checked out only after D),
so their sessions before D would be anonymous there and attributed here: identity restatement.
In general a record after D can also link two earlier ones into one customer.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.exports import ALL_TABLES, SOURCES, CsvFormat, ExportTable
from orchestration.lib.dbt import dbt_executable
from orchestration.lib.dbt_project import DBT_PROJECT_DIR
from orchestration.settings import Settings, get_settings
from tests.conftest import Generated

# Mid-history (the tiny data runs from July 2025 to October 2026) and mid-month, mid-morning.
D = datetime(2026, 3, 17, 10, 30, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
SPECS = {spec.table: spec for spec in ALL_TABLES}
# The date of each export's row: an export taken at D holds no row dated after it.
DATED_BY = {
    "pos_stores": "date_ouverture",
    "pos_tickets": "date_heure",
    "ecommerce_customers": "created_at",
    "ecommerce_orders": "created_at",
    "ecommerce_web_events": "event_at",
    "crm_contacts": "createdate",
    "crm_consents": "stated_at",
    "crm_tickets": "created_at",
    "survey_responses": "submitted_at",
}
# Lines are dated by their ticket or order: (header table, key).
LINES_OF = {
    "pos_ticket_lines": ("pos_tickets", "num_ticket"),
    "ecommerce_order_lines": ("ecommerce_orders", "order_id"),
}
HEADER_KEYS = dict(LINES_OF.values())

Row = dict[str, str]


@dataclass
class Export:
    """One export file as text: its header as written and its rows by lower-cased column."""

    path: Path
    spec: ExportTable
    header: list[str]
    rows: list[Row] = field(default_factory=list)


def _encoding(spec: ExportTable) -> str:
    # The survey tool writes a byte-order mark (as the generator's writer does).
    return "utf-8-sig" if spec.source == "survey" else spec.format.encoding


def _read(path: Path, spec: ExportTable) -> Export:
    if not isinstance(spec.format, CsvFormat):
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = [
            {k: "" if v is None else str(v) for k, v in json.loads(line).items()} for line in lines if line
        ]
        return Export(path, spec, spec.column_names, rows)
    with path.open(encoding=_encoding(spec), newline="") as f:
        header, *body = list(csv.reader(f, delimiter=spec.format.delimiter))
    names = [h.lower() for h in header]
    return Export(path, spec, header, [dict(zip(names, values, strict=True)) for values in body])


def _write(export: Export) -> None:
    spec = export.spec
    if not isinstance(spec.format, CsvFormat):
        text = "".join(
            json.dumps({k: v for k, v in row.items() if v != ""}, ensure_ascii=False) + "\n"
            for row in export.rows
        )
        export.path.write_text(text, encoding="utf-8")
        return
    terminator = "\r\n" if spec.format.encoding == "cp1252" else "\n"
    with export.path.open("w", encoding=_encoding(spec), newline="") as f:
        writer = csv.writer(f, delimiter=spec.format.delimiter, lineterminator=terminator)
        writer.writerow(export.header)
        writer.writerows([[row.get(h.lower(), "") for h in export.header] for row in export.rows])


def _exports(landing: Path) -> list[Export]:
    return [
        _read(path, spec)
        for spec in ALL_TABLES
        for path in sorted((landing / spec.source).glob(spec.pattern))
    ]


def _column_type(spec: ExportTable, name: str) -> str:
    return next(c.type for c in spec.columns if c.name == name)


def _instant(spec: ExportTable, name: str, text: str) -> datetime | None:
    """The instant a cell dates (UTC), as the ingestion reads it: tills write local Paris time."""
    if not text:
        return None
    match _column_type(spec, name):
        case "date":
            return datetime.strptime(text, spec.format.date_format).replace(tzinfo=UTC)
        case "timestamp":
            local = datetime.strptime(text, spec.format.timestamp_format or "%Y-%m-%d %H:%M:%S")
            return local.replace(tzinfo=PARIS).astimezone(UTC)
    return datetime.fromisoformat(text).astimezone(UTC)


def _text(spec: ExportTable, name: str, instant: datetime) -> str:
    """``instant`` written as the export writes that column."""
    if _column_type(spec, name) == "timestamp":
        return instant.astimezone(PARIS).strftime(spec.format.timestamp_format or "%Y-%m-%d %H:%M:%S")
    return instant.isoformat(timespec="seconds")


def _refund_at(order: Row) -> datetime:
    """The web shop dates no refund: it is taken at the order's last dated step, as staging does
    (macro web_refund_at)."""
    spec = SPECS["ecommerce_orders"]
    steps = ("collected_at", "ready_for_pickup_at", "created_at")
    return next(t for t in (_instant(spec, c, order[c]) for c in steps) if t is not None)


# -- Records across D -------------------------------------------------------------------------


def _place_records_across_d(landing: Path) -> None:
    """Copy a few records of existing customers (so that identity puts them with their owner)
    under new ids, dated across D: the states and events a replay must undo or drop."""
    initial = {
        e.spec.table: e for e in _exports(landing) if e.path.name == e.spec.pattern.replace("*", "initial")
    }

    def at(table: str, name: str, instant: datetime | None) -> str:
        return "" if instant is None else _text(SPECS[table], name, instant)

    # A service ticket opened before D, solved after it.
    tickets = initial["crm_tickets"]
    ticket = dict(next(t for t in tickets.rows if t["status"] == "solved"))
    ticket.update(ticket_id="299001", created_at=at("crm_tickets", "created_at", D - timedelta(hours=3)),
                  solved_at=at("crm_tickets", "solved_at", D + timedelta(hours=3)))  # fmt: skip
    tickets.rows.append(ticket)

    # Click & collect: A ready before D, collected after it, then partly refunded; B ready after
    # D, never collected and refunded.
    orders, lines = initial["ecommerce_orders"], initial["ecommerce_order_lines"]
    template = next(o for o in orders.rows if o["fulfillment_method"] == "store_pickup" and o["collected_at"])
    template_lines = [line for line in lines.rows if line["order_id"] == template["order_id"]]
    for order_id, ordered, ready, collected, status in (
        (
            "W-ASOF-A",
            D - timedelta(days=1),
            D - timedelta(hours=2),
            D + timedelta(hours=5),
            "partially_refunded",
        ),
        ("W-ASOF-B", D - timedelta(hours=5), D + timedelta(hours=2), None, "refunded"),
    ):
        copied = [dict(line, order_id=order_id) for line in template_lines]
        for n, line in enumerate(copied):
            line["refunded_quantity"] = line["quantity"] if status == "refunded" or n == 0 else "0"
        refunded = sum(
            float(line["line_total"]) * int(line["refunded_quantity"]) / int(line["quantity"])
            for line in copied
        )
        orders.rows.append(dict(
            template, order_id=order_id, financial_status=status, refunded_amount=f"{refunded:.2f}",
            created_at=at("ecommerce_orders", "created_at", ordered),
            ready_for_pickup_at=at("ecommerce_orders", "ready_for_pickup_at", ready),
            collected_at=at("ecommerce_orders", "collected_at", collected),
        ))  # fmt: skip
        lines.rows.extend(copied)

    # A web session running at D: its events before D are kept, those after it dropped.
    events = initial["ecommerce_web_events"]
    sessions: dict[str, list[Row]] = {}
    for event in events.rows:
        sessions.setdefault(event["session_id"], []).append(event)
    # The longest session that placed no order (a copy must not place one twice).
    session = max((s for s in sessions.values() if not any(e.get("order_id") for e in s)),
                  key=lambda s: (len(s), s[0]["session_id"]))  # fmt: skip
    session.sort(key=lambda e: _instant(events.spec, "event_at", e["event_at"]))
    middle = _instant(events.spec, "event_at", session[len(session) // 2]["event_at"])
    shift = D + timedelta(seconds=1) - middle  # its later half after D
    for n, event in enumerate(session):
        moved = _instant(events.spec, "event_at", event["event_at"]) + shift
        events.rows.append(dict(event, event_id=f"ASOF-{n}", session_id="ASOF-SESSION",
                                event_at=at("ecommerce_web_events", "event_at", moved)))  # fmt: skip

    # A till sale two days before D, returned the day after D.
    tills, till_lines = initial["pos_tickets"], initial["pos_ticket_lines"]
    sale = next(t for t in tills.rows if t["type_ticket"] == "VENTE" and t["num_carte_fidelite"])
    sale_lines = [line for line in till_lines.rows if line["num_ticket"] == sale["num_ticket"]]
    negative = "-" + sale["montant_ttc"]
    tills.rows.append(
        dict(sale, num_ticket="MASOF-SALE", date_heure=at("pos_tickets", "date_heure", D - timedelta(days=2)))
    )
    returned = at("pos_tickets", "date_heure", D + timedelta(days=1))
    tills.rows.append(
        dict(sale, num_ticket="MASOF-RETURN", type_ticket="RETOUR", num_ticket_origine="MASOF-SALE",
             montant_ttc=negative, date_heure=returned)
    )  # fmt: skip
    for line in sale_lines:
        till_lines.rows.append(dict(line, num_ticket="MASOF-SALE"))
        till_lines.rows.append(dict(line, num_ticket="MASOF-RETURN", quantite="-" + line["quantite"],
                                    montant_ttc="-" + line["montant_ttc"]))  # fmt: skip
    for export in initial.values():
        _write(export)


# -- The exports as taken at D ----------------------------------------------------------------


@dataclass
class Truncation:
    """What truncating the exports at D did: rows dropped per table, states undone per kind."""

    dropped: Counter[str] = field(default_factory=Counter)
    undone: Counter[str] = field(default_factory=Counter)


def _truncate_at_d(landing: Path) -> Truncation:
    """Rewrite every export as an export taken at D shows it: rows dated after D dropped (lines
    with their ticket or order), states reached after D undone; files left empty removed."""
    done = Truncation()
    exports = _exports(landing)
    kept: dict[str, set[str]] = {}
    refund_undone: set[str] = set()
    for export in sorted(exports, key=lambda e: e.spec.table in LINES_OF):  # headers before lines
        table, spec = export.spec.table, export.spec
        before = len(export.rows)
        if table in DATED_BY:
            export.rows = [
                r
                for r in export.rows
                if (_instant(spec, DATED_BY[table], r[DATED_BY[table].lower()]) or D) <= D
            ]
        if table in LINES_OF:
            header, key = LINES_OF[table]
            export.rows = [r for r in export.rows if r[key] in kept[header]]
        done.dropped[table] += before - len(export.rows)
        for row in export.rows:
            if table == "crm_tickets" and (_instant(spec, "solved_at", row["solved_at"]) or D) > D:
                row.update(solved_at="", status="open", resolution="")
                done.undone["ticket solved"] += 1
            if table == "ecommerce_orders":
                refunded = float(row["refunded_amount"] or 0) != 0 and _refund_at(row) > D
                for state in ("ready_for_pickup_at", "collected_at"):
                    if (_instant(spec, state, row[state]) or D) > D:
                        row[state] = ""
                        done.undone[state] += 1
                if refunded:
                    row.update(refunded_amount="0.00", financial_status="paid")
                    refund_undone.add(row["order_id"])
                    done.undone["refund"] += 1
            if table == "ecommerce_order_lines" and row["order_id"] in refund_undone:
                row["refunded_quantity"] = "0"
        if table in HEADER_KEYS:
            kept.setdefault(table, set()).update(r[HEADER_KEYS[table]] for r in export.rows)
        if export.rows or export.spec.partitioned_by == "none":
            _write(export)
        else:
            export.path.unlink()
    return done


# -- Builds -----------------------------------------------------------------------------------


def _settings(mp: pytest.MonkeyPatch, data_dir: Path) -> Settings:
    mp.setenv("CDP_DATA_DIR", str(data_dir))
    return get_settings()


def _load(selection_groups: tuple[str, ...]) -> None:
    """The pipeline's own raw (and identity) assets, on the data folder CDP_DATA_DIR names now."""
    definitions = build_definitions()
    selection = dg.AssetSelection.groups(*selection_groups).resolve(definitions.resolve_asset_graph())
    result = definitions.resolve_job_def("full_pipeline").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=list(selection)
    )
    assert result.success


def _dbt_build_as_of_d(settings: Settings, target: Path) -> None:
    """``dbt build`` with as_of = D, as a user replaying D runs it."""
    env = {**os.environ, "CDP_DATA_DIR": str(settings.data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run(
        [dbt_executable(), "build", "--vars", f"{{as_of: '{D.isoformat()}'}}", "--exclude-resource-type",
         "unit_test", "--target-path", str(target), "--log-path", str(target)],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]


# The one wall-clock time in the marts: when a build published a closed period's version (the
# snapshot's dbt_valid_from, docs/kpis.md "Snapshots of closed periods"). Two builds of the same
# data publish at two instants; every other column must be equal.
PUBLICATION_TIMES = {"mart_kpi_restatements": ("first_published_at", "latest_published_at")}


def _marts(settings: Settings) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        tables = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall()
        marts = {}
        for (table,) in tables:
            left_out = PUBLICATION_TIMES.get(table)
            columns = f"* exclude ({', '.join(left_out)})" if left_out else "*"
            marts[table] = con.execute(f"select {columns} from marts.{table} order by all").fetchall()
        return marts
    finally:
        con.close()


@pytest.fixture(scope="module")
def replay(generated: Generated, tmp_path_factory: pytest.TempPathFactory):
    """(marts built with as_of = D, marts built from the exports taken at D, the truncation)."""
    root = tmp_path_factory.mktemp("as_of_replay")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDP_DUCKDB_THREADS", "2")
        mp.setenv("CDP_DUCKDB_MEMORY_LIMIT", "2GB")
        mp.setenv("CDP_LANDING_SETTLE_SECONDS", "0")
        # Freshness is judged when each set of exports was taken.
        mp.setenv("CDP_QUALITY_AS_OF", "2026-11-01T00:00:00Z")
        full = _settings(mp, root / "full")
        shutil.copytree(generated.landing, full.landing_dir)
        _place_records_across_d(full.landing_dir)
        _load((*SOURCES, "landing", "identity"))
        _dbt_build_as_of_d(full, root / "full-target")

        mp.setenv("CDP_QUALITY_AS_OF", D.isoformat())
        at_d = _settings(mp, root / "at_d")
        shutil.copytree(full.landing_dir, at_d.landing_dir)
        truncation = _truncate_at_d(at_d.landing_dir)
        _load((*SOURCES, "landing"))
        con = duckdb.connect(str(at_d.warehouse_path))
        try:
            con.execute(f"attach '{full.warehouse_path}' as full_run (read_only)")
            con.execute("create schema if not exists identity")
            for table in ("records", "customer_source_records"):
                con.execute(
                    f"create or replace table identity.{table} as select * from full_run.identity.{table}"
                )
        finally:
            con.close()
        _dbt_build_as_of_d(at_d, root / "at-d-target")
    yield full, at_d, truncation


def test_the_exports_taken_at_d_lack_later_rows_and_states(replay) -> None:
    """The replay undoes something of every kind (else equal marts would prove nothing)."""
    _, _, truncation = replay
    for table in ("pos_tickets", "pos_ticket_lines", "ecommerce_orders", "ecommerce_order_lines",
                  "ecommerce_web_events", "ecommerce_customers", "crm_tickets", "crm_consents",
                  "crm_contacts", "survey_responses"):  # fmt: skip
        assert truncation.dropped[table] > 0, table
    assert {"ticket solved", "ready_for_pickup_at", "collected_at", "refund"} <= truncation.undone.keys()


def test_marts_built_as_of_d_equal_marts_built_from_the_exports_taken_at_d(replay) -> None:
    full, at_d, _ = replay
    as_of_d, taken_at_d = _marts(full), _marts(at_d)
    assert as_of_d.keys() == taken_at_d.keys()
    assert len(as_of_d) >= 40
    different = {
        table: (len(as_of_d[table]), len(taken_at_d[table]))
        for table in as_of_d
        if as_of_d[table] != taken_at_d[table]
    }
    assert different == {}
    # Not vacuous: the marts built on every export stop at D's month, and D's month is partial.
    con = duckdb.connect(str(full.warehouse_path), read_only=True)
    try:
        latest = con.execute(
            "select period_start, is_partial_period from marts.mart_multichannel_customers "
            "order by period_start desc limit 1"
        ).fetchall()
        (as_of,) = con.execute("select as_of from intermediate.int_data_window").fetchone()
    finally:
        con.close()
    assert latest == [(date(2026, 3, 1), True)]
    assert as_of == D
