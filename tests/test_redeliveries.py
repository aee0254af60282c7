"""Re-deliveries and late corrections flow through: the latest delivered version of a record wins
everywhere downstream (identity included), earlier versions stay in raw for lineage.

One more full run on a copy of the session pipeline's data directory, after a day's deliveries
that correct a CRM contact (same id, new e-mail), correct a till ticket and its lines (same number,
new amount), and re-export a whole month of web orders with other bytes (CRLF line breaks).
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from orchestration.exports import crm, pos
from orchestration.settings import Settings, get_settings
from tests.conftest import FRESH_AS_OF, failed_checks, query, run_job

NEW_EMAIL = "corrected.address@example.org"


def _rewrite(path: Path, header: str, rows: list[list[str]], delimiter: str, encoding: str) -> None:
    body = "\r\n".join([header, *(delimiter.join(r) for r in rows)]) + "\r\n"
    path.write_bytes(body.encode(encoding))


@pytest.fixture(scope="module")
def redelivered(pipeline, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Settings, object]:
    before, _ = pipeline
    root = tmp_path_factory.mktemp("redelivered") / "cdp"
    shutil.copytree(before.data_dir, root, ignore=shutil.ignore_patterns("dagster"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDP_DATA_DIR", str(root))
        mp.setenv("CDP_DUCKDB_THREADS", "2")
        mp.setenv("CDP_DUCKDB_MEMORY_LIMIT", "2GB")
        mp.setenv("CDP_QUALITY_AS_OF", FRESH_AS_OF)
        mp.setenv("CDP_LANDING_SETTLE_SECONDS", "0")
        settings = get_settings()
        landing = settings.landing_dir

        # 1. A CRM contact corrected: same id, new e-mail, modified later.
        contact_id, created = query(
            before,
            "select contact_id, createdate::varchar from raw.crm_contacts "
            "where email is not null order by contact_id limit 1",
        )[0]
        values = {c: "" for c in crm.CONTACTS.column_names}
        values.update(
            contact_id=contact_id,
            email=NEW_EMAIL,
            firstname="Corrigé",
            lastname="Contact",
            createdate=created.replace(" ", "T"),
            lastmodifieddate="2026-10-30T12:00:00+00:00",
        )
        _rewrite(
            landing / "crm" / "contacts_2099-01-corrections.csv",
            ",".join(crm.CONTACTS.column_names),
            [[values[c] for c in crm.CONTACTS.column_names]],
            ",",
            "utf-8",
        )

        # 2. A till sale corrected: the ticket and its first line 10 EUR more.
        ticket = query(
            before,
            f"select {', '.join(pos.TICKETS.column_names)} "
            "from raw.pos_tickets where type_ticket = 'VENTE' order by num_ticket limit 1",
        )[0]
        row = dict(zip(pos.TICKETS.column_names, ticket, strict=True))
        lines = query(
            before,
            f"select {', '.join(pos.TICKET_LINES.column_names)} "
            f"from raw.pos_ticket_lines where num_ticket = '{row['num_ticket']}' order by num_ligne",
        )
        line_rows = [dict(zip(pos.TICKET_LINES.column_names, r, strict=True)) for r in lines]
        row["montant_ttc"] += Decimal("10")
        line_rows[0]["montant_ttc"] += Decimal("10")

        def fr(v: object) -> str:
            if v is None:
                return ""
            if isinstance(v, Decimal):
                return f"{v:.2f}".replace(".", ",")
            if hasattr(v, "strftime"):
                return v.strftime("%d/%m/%Y %H:%M:%S")
            return str(v)

        _rewrite(
            landing / "pos" / "tickets_2099-01-corrections.csv",
            ";".join(pos.TICKETS.column_names),
            [[fr(row[c]) for c in pos.TICKETS.column_names]],
            ";",
            "cp1252",
        )
        _rewrite(
            landing / "pos" / "lignes_tickets_2099-01-corrections.csv",
            ";".join(pos.TICKET_LINES.column_names),
            [[fr(r[c]) for c in pos.TICKET_LINES.column_names] for r in line_rows],
            ";",
            "cp1252",
        )

        # 3. A month of web orders exported again at another time: same rows, other bytes.
        month = sorted((landing / "ecommerce").glob("orders_2026-*.csv"))[-1]
        text = month.read_text(encoding="utf-8")
        (landing / "ecommerce" / "orders_2099-01-reexport.csv").write_bytes(
            text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
        )
        result = run_job("full_pipeline", settings)
        yield (
            before,
            settings,
            result,
            {
                "contact_id": contact_id,
                "ticket": row["num_ticket"],
                "orders_file": month.name,
            },
        )


def test_the_run_succeeds_and_every_check_passes(redelivered) -> None:
    _, _, result, _ = redelivered
    assert result.success
    assert failed_checks(result) == []


def test_raw_keeps_every_version_with_its_lineage(redelivered) -> None:
    _, after, _, case = redelivered
    versions = query(
        after,
        f"select _source_file, email from raw.crm_contacts where contact_id = '{case['contact_id']}' "
        "order by _loaded_at",
    )
    assert len(versions) == 2 and versions[-1] == ("crm/contacts_2099-01-corrections.csv", NEW_EMAIL)
    (orders_versions,) = query(
        after,
        "select count(*) from raw.ecommerce_orders "
        "where _source_file = 'ecommerce/orders_2099-01-reexport.csv'",
    )[0]
    assert orders_versions > 0
    (current,) = query(
        after, f"select email from raw_current.crm_contacts where contact_id = '{case['contact_id']}'"
    )[0]
    assert current == NEW_EMAIL


def test_identity_sees_one_record_per_source_record_with_the_latest_values(redelivered) -> None:
    _, after, _, case = redelivered
    assert query(after, "select count(*) - count(distinct unique_id) from identity.records") == [(0,)]
    assert query(
        after, f"select email from identity.records where unique_id = 'crm_contacts:{case['contact_id']}'"
    ) == [(NEW_EMAIL,)]


def test_facts_take_the_corrected_values_and_count_each_record_once(redelivered) -> None:
    before, after, _, case = redelivered
    sql = "select count(*), sum(net_amount) from marts.fct_orders"
    (n_before, revenue_before), (n_after, revenue_after) = query(before, sql)[0], query(after, sql)[0]
    assert n_after == n_before  # re-exported orders and the corrected ticket are versions, not new orders
    assert revenue_after - revenue_before == Decimal("10")
    ticket = case["ticket"]
    amount, lines = query(
        after,
        f"select amount, (select sum(line_amount) from marts.fct_order_lines where order_id = '{ticket}') "
        f"from marts.fct_orders where order_id = '{ticket}'",
    )[0]
    assert amount == lines


def test_only_what_the_new_files_change_runs_again(redelivered) -> None:
    """Identity says which raw tables changed; the dbt docs (the project did not change) are not
    regenerated; the publication is."""
    _, _, result, _ = redelivered
    materialized = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    identity = materialized["identity/customer_source_records"]
    assert identity["recomputed"].value is True
    assert "raw.crm_contacts" in identity["reason"].value
    assert "serving/dbt_docs" not in materialized
    assert "serving/marts" in materialized
