"""Audiences: only consented, reachable contacts, in the import layout of French e-mail tools."""

import csv
from pathlib import Path

import duckdb
import pytest

from orchestration.activation.audiences import Audience, AudienceConfigError, load_audiences, write_audience
from tests.conftest import query

CHAMPIONS_EMAIL = Audience(
    "champions_email", "", "email", "rfm_segment = 'champions'", ("favourite_universe",)
)


@pytest.fixture
def marts(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """Hand-made marts: five champions with every consent situation, and one customer who is not."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.dim_customers as select * from (values
            ('A', 'a@x.fr', '+33600000001', 'Anne', 'Martin', 'active'),
            ('B', 'b@x.fr', '+33600000002', 'Bruno', 'Petit', 'active'),
            ('C', 'c@x.fr', '+33600000003', 'Chloé', 'Roux', 'active'),
            ('D', null, '+33600000004', 'Denis', 'Blanc', 'active'),
            ('E', 'e@x.fr', '+33600000005', 'Emma', 'Noir', 'lapsed')
        ) as t(customer_id, email, phone, first_name, last_name, lifecycle_stage)
        """
    )
    con.execute(
        """
        create table marts.mart_customer_segments as select * from (values
            ('A', 'active', 'champions', 'ustensiles'),
            ('B', 'active', 'champions', 'cuisson'),
            ('C', 'active', 'champions', 'cuisson'),
            ('D', 'active', 'champions', 'cuisson'),
            ('E', 'lapsed', 'hibernating', 'cuisson')
        ) as t(customer_id, lifecycle_stage, rfm_segment, favourite_universe)
        """
    )
    # A granted; B granted then withdrawn (denied, last granted kept); C never stated (unknown);
    # D granted but has no e-mail; E granted but not a champion. Every one granted SMS but B.
    con.execute(
        """
        create table marts.dim_customer_consents as
        select customer_id, consent_channel, consent_state, consent_state = 'granted' as is_granted,
               last_granted_at::timestamptz as last_granted_at
        from (values
            ('A', 'email', 'granted', '2026-01-05 10:00:00+00'),
            ('B', 'email', 'denied', '2025-06-01 10:00:00+00'),
            ('C', 'email', 'unknown', null),
            ('D', 'email', 'granted', '2026-02-01 10:00:00+00'),
            ('E', 'email', 'granted', '2026-02-01 10:00:00+00'),
            ('A', 'sms', 'granted', '2026-01-06 10:00:00+00'),
            ('B', 'sms', 'denied', null),
            ('C', 'sms', 'granted', '2026-03-01 10:00:00+00'),
            ('D', 'sms', 'granted', '2026-03-01 10:00:00+00'),
            ('E', 'sms', 'granted', '2026-03-01 10:00:00+00')
        ) as t(customer_id, consent_channel, consent_state, last_granted_at)
        """
    )
    yield con
    con.close()


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f, delimiter=";"))


def test_only_granted_and_reachable_customers_are_exported(marts, tmp_path: Path) -> None:
    written = write_audience(marts, CHAMPIONS_EMAIL, tmp_path / "activation")
    rows = _rows(written.path)
    assert rows == [
        ["EMAIL", "PRENOM", "NOM", "DATE_CONSENTEMENT", "FAVOURITE_UNIVERSE"],
        ["a@x.fr", "Anne", "Martin", "2026-01-05", "ustensiles"],  # B withdrew, C never said, D has no e-mail
    ]
    assert written.rows == 1 and written.preview == [
        ("a***@x.fr", "A*ne", "M***in", "2026-01-05", "ustensiles")
    ]
    assert written.path.stat().st_mode & 0o077 == 0  # contacts in clear: the owner's only
    assert not list(written.path.parent.glob(".*"))  # no temporary file left beside it


def test_the_consent_of_the_audience_channel_decides(marts, tmp_path: Path) -> None:
    sms = Audience("champions_sms", "", "sms", "rfm_segment = 'champions'", ())
    rows = _rows(write_audience(marts, sms, tmp_path).path)
    # A phone starts with "+": written as text ("'+336…"), see test_formula_looking_cells_are_text.
    assert [r[0] for r in rows] == ["SMS", "'+33600000001", "'+33600000003", "'+33600000004"]


def test_a_bad_audience_definition_names_the_file_and_the_key(tmp_path: Path) -> None:
    config = tmp_path / "audiences.yml"
    config.write_text("audiences:\n  x:\n    channel: fax\n    where: 'true'\n")
    with pytest.raises(AudienceConfigError, match=r"audiences.yml: audiences.x.channel: one of"):
        load_audiences(config)
    config.write_text("audiences:\n  x:\n    channel: email\n    where: 'true'\n    filter: 1\n")
    with pytest.raises(AudienceConfigError, match=r"audiences.x: unknown key\(s\) \['filter'\]"):
        load_audiences(config)


def test_the_pipeline_writes_every_audience_with_consented_contacts_only(pipeline) -> None:
    settings, result = pipeline
    counts = {
        e.asset_key.path[1]: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0] == "activation"
    }
    assert counts.keys() == {a.name for a in load_audiences()}
    for audience in load_audiences():
        rows = _rows(settings.data_dir / "activation" / f"{audience.name}.csv")
        assert len(rows) - 1 == counts[audience.name]
        contact = {"email": "email", "sms": "phone"}[audience.channel]
        granted = {
            value
            for (value,) in query(
                settings,
                f"select c.{contact} from marts.dim_customers c join marts.dim_customer_consents k "
                f"using (customer_id) where k.consent_channel = '{audience.channel}' and k.is_granted",
            )
        }
        # A phone is written as text behind a quote ("'+336…"): orchestration/lib/spreadsheet_safe.py
        assert {r[0].removeprefix("'") for r in rows[1:]} <= granted
    assert sum(counts.values()) > 0, "the test data fills some audience"
