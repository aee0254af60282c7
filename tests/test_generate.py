"""The sample-data generator: deterministic, in the documented formats, with complete ground truth."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import duckdb

from orchestration import generate as generation
from orchestration.exports import ALL_TABLES, pos, survey
from orchestration.generate import generate
from tests.conftest import Generated


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    a = generate(tmp_path / "a" / "landing", tmp_path / "a" / "truth", customers=60, seed=3, days=60)
    generate(tmp_path / "b" / "landing", tmp_path / "b" / "truth", customers=60, seed=3, days=60)
    generate(tmp_path / "c" / "landing", tmp_path / "c" / "truth", customers=60, seed=4, days=60)
    assert a.persons == 60
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_output_does_not_depend_on_the_number_of_processes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(generation, "SHARD_PERSONS", 25)  # 3 shards
    one = generate(
        tmp_path / "a" / "landing", tmp_path / "a" / "truth", customers=70, seed=5, days=40, workers=1
    )
    generate(tmp_path / "b" / "landing", tmp_path / "b" / "truth", customers=70, seed=5, days=40, workers=2)
    assert one.persons == 70
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    persons = list(csv.DictReader((tmp_path / "a" / "truth" / "persons.csv").open(encoding="utf-8")))
    assert len(persons) == len({p["person_id"] for p in persons}) == 70
    tickets = [
        row["NUM_TICKET"]
        for p in (tmp_path / "a" / "landing" / "pos").glob("tickets_*.csv")
        for row in csv.DictReader(p.open(encoding="cp1252", newline=""), delimiter=";")
    ]
    assert len(tickets) == len(set(tickets)) > 0  # ids stay unique across shards
    assert not list(tmp_path.glob("*/.cdp-generate-*"))  # scratch folders are removed


def test_every_export_table_is_written_with_its_declared_file_pattern(generated: Generated) -> None:
    for spec in ALL_TABLES:
        files = list((generated.landing / spec.source).glob(spec.pattern))
        assert files, f"no file for {spec.table}"
        assert generated.stats.rows[spec.table] > 0


def test_pos_exports_look_like_french_pos_tools(generated: Generated) -> None:
    path = next((generated.landing / "pos").glob("tickets_*.csv"))
    raw = path.read_bytes()
    text = raw.decode("cp1252")  # Windows-1252, not UTF-8
    header = text.splitlines()[0].split(";")
    assert [h.lower() for h in header] == pos.TICKETS.column_names
    assert b"\r\n" in raw
    rows = list(csv.reader(text.splitlines()[1:], delimiter=";"))
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", r[3]) for r in rows)
    assert all(re.fullmatch(r"-?\d+,\d{2}", r[11]) for r in rows)  # decimal comma


def test_survey_exports_have_bom_multiline_verbatims_and_emojis(generated: Generated) -> None:
    texts = [p.read_bytes() for p in (generated.landing / "survey").glob("responses_*.csv")]
    assert all(t.startswith(b"\xef\xbb\xbf") for t in texts)
    rows = [row for t in texts for row in csv.DictReader(t.decode("utf-8-sig").splitlines(keepends=True))]
    verbatims = [r["verbatim"] for r in rows if r["verbatim"]]
    assert any("\n" in v for v in verbatims)
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", v) for v in verbatims)
    assert any("," in v for v in verbatims) and any(";" in v for v in verbatims)
    assert set(r["touchpoint"] for r in rows) <= {
        "store_purchase",
        "web_purchase",
        "service_contact",
        "click_and_collect_pickup",
    }
    assert any(not r["respondent_email"] for r in rows)
    assert list(rows[0].keys()) == survey.RESPONSES.column_names


def test_web_events_are_ndjson_and_visitors_get_tied_to_accounts(generated: Generated) -> None:
    events = [
        json.loads(line)
        for p in (generated.landing / "ecommerce").glob("web_events_*.ndjson")
        for line in p.read_text(encoding="utf-8").splitlines()
    ]
    kinds = Counter(e["event_type"] for e in events)
    assert kinds["add_to_cart"] > kinds["checkout_completed"] > 0  # carts get abandoned
    assert kinds["login"] > 0
    assert any(e.get("customer_id") for e in events)
    assert all(e.get("order_id") for e in events if e["event_type"] == "checkout_completed")


def test_identities_are_messy_in_the_ways_real_systems_are(generated: Generated) -> None:
    persons = list(csv.DictReader((generated.truth / "persons.csv").open(encoding="utf-8")))
    assert any("-" in p["first_name"] for p in persons)
    assert any(re.search(r"[éèêëàâîïôöûüçÉÈ]", p["first_name"] + p["last_name"]) for p in persons)
    households = Counter(p["household_id"] for p in persons)
    assert max(households.values()) >= 2
    phones = []
    for p in (generated.landing / "crm").glob("contacts_*.csv"):
        phones += [r["phone"] for r in csv.DictReader(p.open(encoding="utf-8")) if r["phone"]]
    formats = {re.sub(r"\d", "9", ph) for ph in phones}
    assert len(formats) >= 4, formats  # 06 12 34 56 78, +336..., 0033..., 06.12...


def test_truth_covers_every_identity_bearing_record_exactly_once(generated: Generated) -> None:
    con = duckdb.connect()
    truth = generated.truth / "identities.csv"
    con.execute(f"create table truth as select * from read_csv('{truth}', all_varchar=true)")
    dupes = con.execute(
        "select count(*) from (select source_system, source_record_id from truth group by all "
        "having count(*) > 1)"
    ).fetchall()[0][0]
    assert dupes == 0
    land = generated.landing

    def ids(sql: str) -> set[str]:
        return {r[0] for r in con.execute(sql).fetchall()}

    def truth_ids(system: str) -> set[str]:
        return ids(f"select source_record_id from truth where source_system = '{system}'")

    pos_identified = set()
    for path in (land / "pos").glob("tickets_*.csv"):
        for row in csv.DictReader(path.open(encoding="cp1252", newline=""), delimiter=";"):
            if any(row[c] for c in ("NUM_CARTE_FIDELITE", "EMAIL_CLIENT", "TEL_CLIENT", "NOM_CLIENT")):
                pos_identified.add(row["NUM_TICKET"])
    assert truth_ids("pos_tickets") == pos_identified
    expected = {
        "ecommerce_customers": ("ecommerce/customers_*.csv", "customer_id"),
        "ecommerce_orders": ("ecommerce/orders_*.csv", "order_id"),
        "crm_contacts": ("crm/contacts_*.csv", "contact_id"),
        "crm_tickets": ("crm/tickets_*.csv", "ticket_id"),
        "survey_responses": ("survey/responses_*.csv", "response_id"),
    }
    for system, (pattern, key) in expected.items():
        exported = ids(f"select {key} from read_csv('{land}/{pattern}', all_varchar=true)")
        assert truth_ids(system) == exported, system
    visitors = ids(
        f"select distinct visitor_id from read_json('{land}/ecommerce/web_events_*.ndjson', "
        "format='newline_delimited', columns={visitor_id: 'varchar', session_id: 'varchar', "
        "event_type: 'varchar', customer_id: 'varchar'}) "
        "where customer_id is not null or event_type = 'checkout_completed'"
    )
    assert truth_ids("ecommerce_visitors") == visitors
    persons = ids(f"select person_id from read_csv('{generated.truth}/persons.csv', all_varchar=true)")
    assert ids("select person_id from truth") <= persons


def test_export_format_reference_matches_the_code() -> None:
    from orchestration.exports.docs import DOC_PATH, render

    assert DOC_PATH.read_text(encoding="utf-8") == render(), "run `cdp formats --write`"
