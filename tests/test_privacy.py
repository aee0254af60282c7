"""Privacy requests on the pipeline's warehouse: the right of access (``cdp privacy export``)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from tests.conftest import query


def _customer_with_many_records(settings) -> tuple[str, str]:
    """A customer with an e-mail, records in at least three systems and the most records."""
    ((customer_id, email),) = query(
        settings,
        """
        select customers.customer_id, customers.email
        from marts.dim_customers as customers
        join identity.customer_source_records as bridge using (customer_id)
        where customers.email is not null
        group by all
        having count(distinct bridge.source_system) >= 3
        order by count(*) desc, 1
        limit 1
        """,
    )
    return customer_id, email


def test_access_export_holds_every_record_of_the_person_and_only_theirs(
    pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = pipeline
    monkeypatch.setenv("CDP_DATA_DIR", str(settings.data_dir))
    customer_id, email = _customer_with_many_records(settings)
    out = tmp_path / "request" / "export.json"

    # The e-mail as a person types it: upper case, spaces around.
    result = CliRunner().invoke(
        app, ["privacy", "export", "--email", f"  {email.upper()} ", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    export = json.loads(out.read_text(encoding="utf-8"))
    assert export["request"]["customer_ids"] == [customer_id]
    assert "@" not in json.dumps(export["request"])  # the request part names how, not the value

    # Every identity record of the customer, and the links that joined them.
    records = query(
        settings,
        f"select source_system, source_record_id from identity.customer_source_records "
        f"where customer_id = '{customer_id}' order by all",
    )
    assert sorted((r["source_system"], r["source_record_id"]) for r in export["identity_records"]) == records
    ids = {f"{s}:{r}" for s, r in records}
    assert export["identity_links"], "several records, so links"
    assert all(link["record"] in ids and link["linked_record"] in ids for link in export["identity_links"])

    # Golden record and consents: one row each channel, with provenance when stated.
    assert [row["customer_id"] for row in export["golden_record"]] == [customer_id]
    assert {row["consent_channel"] for row in export["consents"]} == {"email", "sms", "post"}
    stated = [row for row in export["consents"] if row["consent_state"] != "unknown"]
    assert all(row["source_system"] and row["stated_at"] for row in stated)

    # Source rows as delivered, with their file and line: that line of that landing file holds the
    # record's id; every row is the person's (their record, or a line, consent, event of one).
    source = export["source_records"]
    assert {s for s, _ in records} - {"ecommerce_visitors"} <= set(source)
    own_ids = {r for _, r in records}
    for table, rows in source.items():
        for row in rows:
            line = (settings.landing_dir / row["_source_file"]).read_text(encoding="utf-8", errors="replace")
            text = line.splitlines()[row["_source_line"] - 1]
            assert any(str(value) in text for value in row.values() if str(value) in own_ids), (table, row)
    interactions = {row["customer_id"] for row in export["interactions"]}
    assert interactions == {customer_id}

    assert out.stat().st_mode & 0o077 == 0  # personal data in clear: the owner's only
    page = out.with_suffix(".html").read_text(encoding="utf-8")
    assert email in page and "<script" not in page
    assert export["golden_record"][0]["last_name"] in page


def test_access_export_for_an_unknown_or_unusable_identifier(
    pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = pipeline
    monkeypatch.setenv("CDP_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "export.json"
    unknown = CliRunner().invoke(
        app, ["privacy", "export", "--email", "nobody@nowhere.example", "--out", str(out)]
    )
    assert unknown.exit_code == 1 and "no customer has this email" in unknown.output
    placeholder = CliRunner().invoke(app, ["privacy", "export", "--phone", "0000000000", "--out", str(out)])
    assert placeholder.exit_code == 2 and "not a usable phone" in placeholder.output
    both = CliRunner().invoke(
        app, ["privacy", "export", "--email", "a@b.fr", "--customer-id", "C1", "--out", str(out)]
    )
    assert both.exit_code == 2 and "exactly one" in both.output
    assert not out.exists()
