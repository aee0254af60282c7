"""The sample-data generator: deterministic, in the documented formats, with complete ground truth."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
import random
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration import generate as generation
from orchestration.benchmarks.floor import floor_scan
from orchestration.exports import ALL_TABLES, pos, survey
from orchestration.generate import generate
from orchestration.generate.noise import REALISM, Messiness, Noise
from orchestration.generate.reference.names import FIRST_NAME_VARIANTS
from orchestration.ingest.landing import landing_files
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


def test_gzip_writes_the_same_records_compressed_and_ingestion_and_the_floor_find_them(
    tmp_path: Path, monkeypatch
) -> None:
    # 3 shards joined by 2 workers, and daily files: every way a file is put together.
    monkeypatch.setattr(generation, "SHARD_PERSONS", 25)
    plain, packed = tmp_path / "plain", tmp_path / "gzip"
    options = {"customers": 70, "seed": 5, "days": 40, "daily_days": 3, "workers": 2}
    generate(plain / "landing", plain / "truth", **options)
    generate(packed / "landing", packed / "truth", gzip=True, **options)

    plain_files = sorted(p.relative_to(plain / "landing") for p in (plain / "landing").rglob("*.*"))
    packed_files = sorted(p.relative_to(packed / "landing") for p in (packed / "landing").rglob("*.*"))
    assert [f.as_posix() + ".gz" for f in plain_files] == [f.as_posix() for f in packed_files]
    assert any(re.search(r"_\d{4}-\d{2}-\d{2}\.csv\.gz$", f.name) for f in packed_files)
    for name in plain_files:
        inside = gzip.decompress((packed / "landing" / f"{name}.gz").read_bytes())
        assert inside == (plain / "landing" / name).read_bytes(), name
    assert _digest(plain / "truth") == _digest(packed / "truth")  # the truth stays plain
    size = sum((packed / "landing" / f).stat().st_size for f in packed_files)
    assert size < 0.5 * sum((plain / "landing" / f).stat().st_size for f in plain_files)

    # Ingestion takes every compressed file for its table; the floor reads the same records.
    for spec in ALL_TABLES:
        assert len(landing_files(packed / "landing", spec)) == len(landing_files(plain / "landing", spec)) > 0
    plain_floor, packed_floor = floor_scan(plain / "landing", 1), floor_scan(packed / "landing", 1)
    assert packed_floor["rows"] == plain_floor["rows"] > 0
    assert packed_floor["files"] == plain_floor["files"]


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


def test_truth_says_when_the_exports_were_taken_the_day_after_the_last_event(generated: Generated) -> None:
    """``make run`` judges freshness at truth/as_of.txt: after every event, within a day of the last."""
    as_of = datetime.fromisoformat((generated.truth / "as_of.txt").read_text(encoding="utf-8").strip())
    con = duckdb.connect()
    journeys = generated.truth / "journeys.csv"
    last = con.execute(
        f"select max(event_at_utc::timestamptz) from read_csv('{journeys}', all_varchar=true)"
    ).fetchall()[0][0]
    assert timedelta(0) < as_of - last <= timedelta(days=1)


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


# -- Habits of real data (``--realism``) ------------------------------------------------------------

REALISM_CUSTOMERS = 3000


@pytest.fixture(scope="module")
def realism_data(tmp_path_factory: pytest.TempPathFactory) -> dict[float, Path]:
    """The same population generated with the habits of real data (1) and without them (0)."""
    roots = {}
    for realism in (1.0, 0.0):
        root = tmp_path_factory.mktemp(f"realism{realism:g}")
        generate(root / "landing", root / "truth", customers=REALISM_CUSTOMERS, seed=11, realism=realism)
        roots[realism] = root
    return roots


def _warehouse(root: Path) -> duckdb.DuckDBPyConnection:
    """Views over one generated folder: the exports, and who each record truly belongs to."""
    con = duckdb.connect()
    land, truth = root / "landing", root / "truth"
    for view, path in {
        "identities": truth / "identities.csv",
        "persons": truth / "persons.csv",
        "accounts": land / "ecommerce" / "customers_*.csv",
        "orders": land / "ecommerce" / "orders_*.csv",
        "contacts": land / "crm" / "contacts_*.csv",
    }.items():
        con.execute(f"create view {view} as select * from read_csv('{path}', all_varchar=true)")
    # Till exports are cp1252 with ';': the two columns read here are ASCII.
    con.execute(
        f"create view tickets as select * from read_csv('{land}/pos/tickets_*.csv', all_varchar=true, "
        "delim=';', encoding='latin-1')"
    )
    con.execute(
        f"create view checkouts as select order_id, customer_id from read_json("
        f"'{land}/ecommerce/web_events_*.ndjson', format='newline_delimited', "
        "columns={event_type: 'varchar', order_id: 'varchar', customer_id: 'varchar'}) "
        "where event_type = 'checkout_completed'"
    )
    for view, table, key, system in (
        ("account_persons", "accounts", "customer_id", "ecommerce_customers"),
        ("order_persons", "orders", "order_id", "ecommerce_orders"),
        ("contact_persons", "contacts", "contact_id", "crm_contacts"),
    ):
        con.execute(
            f"create view {view} as select t.*, p.person_id, p.first_name as true_first_name, "
            f"p.birth_date as true_birth_date, p.emails as true_emails from {table} t "
            f"join identities i on i.source_system = '{system}' and i.source_record_id = t.{key} "
            "join persons p using (person_id)"
        )
    return con


def _counts(root: Path) -> dict[str, int]:
    """How often each habit of real data shows in one generated folder, and out of how many."""
    con = _warehouse(root)

    def one(sql: str) -> int:
        return con.execute(sql).fetchall()[0][0]

    birth_dates = (
        "select true_birth_date, birth_date as typed from account_persons where birth_date is not null "
        "union all select true_birth_date, date_of_birth from contact_persons where date_of_birth is not null"
    )
    variants = [
        (name, variant)
        for name, spellings in FIRST_NAME_VARIANTS.items()
        if "-" not in name  # compound names: "JP" is one of the old compound forms too
        for variant in spellings
    ]
    con.execute("create table variants (name varchar, variant varchar)")
    con.executemany("insert into variants values (?, ?)", variants)
    typed_names = (
        "select true_first_name, first_name as typed from account_persons "
        "union all select true_first_name, firstname from contact_persons "
        "union all select true_first_name, billing_first_name from order_persons"
    )
    return {
        "account_holders": one("select count(distinct person_id) from account_persons"),
        "with_2_accounts": one(
            "select count(*) from (select person_id from account_persons group by 1 having count(*) >= 2)"
        ),
        "with_3_accounts": one(
            "select count(*) from (select person_id from account_persons group by 1 having count(*) >= 3)"
        ),
        "accounts": one("select count(*) from accounts"),
        "accounts_without_email": one("select count(*) from accounts where email is null"),
        "orders": one("select count(*) from orders"),
        "guest_orders": one("select count(*) from orders where customer_id is null"),
        # Only an express checkout leaves a logged-in session with a guest order.
        "express_seen": one(
            "select count(*) from orders join checkouts c using (order_id) "
            "where orders.customer_id is null and c.customer_id is not null"
        ),
        # Web orders delivered and not refunded online, and those returned at a till (a return
        # ticket whose original ticket is the web order).
        "delivered_orders": one(
            "select count(*) from orders "
            "where fulfillment_method <> 'store_pickup' and financial_status = 'paid'"
        ),
        "returned_in_store": one(
            "select count(*) from tickets where TYPE_TICKET = 'RETOUR' and NUM_TICKET_ORIGINE in "
            "(select order_id from orders)"
        ),
        "birth_dates": one(f"select count(*) from ({birth_dates})"),
        "birth_date_typos": one(f"select count(*) from ({birth_dates}) where typed <> true_birth_date"),
        "names_with_variants": one(
            f"select count(*) from ({typed_names}) t where t.true_first_name in (select name from variants)"
        ),
        "name_variants": one(
            f"select count(*) from ({typed_names}) t join variants v on v.name = t.true_first_name "
            "and lower(trim(t.typed)) = lower(v.variant)"
        ),
    }


def _near(count: int, out_of: int, rate: float) -> bool:
    """``count`` within four binomial standard deviations of ``rate`` x ``out_of``."""
    expected = rate * out_of
    return abs(count - expected) <= 4 * math.sqrt(expected * (1 - rate)) + 1


def test_habits_of_real_data_occur_at_their_documented_rates(realism_data: dict[float, Path]) -> None:
    rates = Messiness()
    n = _counts(realism_data[1.0])
    assert _near(n["with_2_accounts"], n["account_holders"], rates.second_account), n
    assert _near(n["with_3_accounts"], n["account_holders"], rates.third_account), n
    # Phone-only: the first account of a holder (extra accounts are opened for their e-mail).
    assert _near(n["accounts_without_email"], n["account_holders"], rates.no_email_account), n
    assert _near(n["birth_date_typos"], n["birth_dates"], rates.birth_date_typo), n
    assert n["express_seen"] > 0
    # Returns after the period's end are not written: slightly fewer than the rate.
    assert _near(n["returned_in_store"], n["delivered_orders"], rates.web_return_in_store * 0.97), n
    assert 0.3 < n["guest_orders"] / n["orders"] < 0.6, n  # with the plain guest checkouts
    # Typed names are also case-, typo- and swap-noised afterwards, and some names already have a
    # nickname (which wins): the variant shows a little less often than its rate.
    assert 0.5 * rates.first_name_variant < n["name_variants"] / n["names_with_variants"], n
    assert n["name_variants"] / n["names_with_variants"] < 1.2 * rates.first_name_variant, n


def test_realism_0_draws_none_of_the_habits_of_real_data(realism_data: dict[float, Path]) -> None:
    """``--realism 0`` is the generator before these habits (checked byte for byte against it when
    they were added): none of them may show."""
    n = _counts(realism_data[0.0])
    assert n["account_holders"] > 500
    habits = ("accounts_without_email", "express_seen", "birth_date_typos", "name_variants")
    for habit in (*habits, "returned_in_store"):
        assert n[habit] == 0, habit
    assert n["with_2_accounts"] == 0
    scaled = Messiness().scaled(1.5, realism=0.0)
    assert all(getattr(scaled, name) == 0 for name in REALISM)
    assert scaled.typo == Messiness().scaled(1.5).typo
    rng = random.Random(1)
    state = rng.getstate()
    assert not Noise(rng, scaled).maybe(scaled.second_account)
    assert rng.getstate() == state  # a behaviour switched off draws nothing from the stream


def test_every_extra_account_guest_order_and_typo_maps_to_its_true_person(
    realism_data: dict[float, Path],
) -> None:
    con = _warehouse(realism_data[1.0])
    # An account's login is one of its true person's mailboxes (lower-cased, never mistyped).
    wrong = con.execute(
        "select customer_id, email, true_emails from account_persons "
        "where email is not null and not list_contains(string_split(true_emails, '|'), email)"
    ).fetchall()
    assert wrong == []
    assert con.execute("select count(*) from accounts where email is null and phone is null").fetchall() == [
        (0,)
    ]
    # Accounts of one person are opened one after the other, with different e-mails.
    dupes = con.execute(
        "select person_id from account_persons where email is not null group by person_id, email "
        "having count(*) > 1"
    ).fetchall()
    assert dupes == []
    # Orders of a person with several accounts use more than one of them.
    used = con.execute(
        "select count(*) from (select person_id from order_persons where customer_id is not null "
        "and person_id in (select person_id from account_persons group by 1 having count(*) > 1) "
        "group by 1 having count(distinct customer_id) > 1)"
    ).fetchall()[0][0]
    assert used > 0
    # An order placed with an account belongs to the account's person.
    mismatched = con.execute(
        "select o.order_id from order_persons o join account_persons a using (customer_id) "
        "where o.person_id <> a.person_id"
    ).fetchall()
    assert mismatched == []
    # A birth-date typo is a day/month swap or one wrong digit of the true date.
    for true, typed in con.execute(
        "select true_birth_date, birth_date from account_persons where birth_date <> true_birth_date "
        "union all select true_birth_date, date_of_birth from contact_persons "
        "where date_of_birth <> true_birth_date"
    ).fetchall():
        t, w = date.fromisoformat(true), date.fromisoformat(typed)
        swapped = (w.day, w.month) == (t.month, t.day)
        digits = sum(a != b for a, b in zip(t.strftime("%d%m%Y"), w.strftime("%d%m%Y"), strict=True))
        assert swapped or digits == 1, (true, typed)


def test_customers_arrive_and_lapse_through_history_and_period(tmp_path: Path) -> None:
    """A living population: history before the period in the *_initial files, first purchases
    steady through the period (no left-censoring trend), customers lapsing, and every purchase of
    a person inside their active span."""
    end = date(2026, 10, 31)
    generate(tmp_path / "landing", tmp_path / "truth", customers=1500, seed=11, days=360, end_date=end)
    start = datetime(2025, 11, 6)  # 360 days ending on `end`
    assert (tmp_path / "landing" / "pos" / "tickets_initial.csv").stat().st_size > 10_000
    persons = {
        p["person_id"]: p for p in csv.DictReader((tmp_path / "truth" / "persons.csv").open(encoding="utf-8"))
    }
    lapsed = sum(1 for p in persons.values() if p["active_until"])
    assert 0.2 < lapsed / len(persons) < 0.8
    first_purchase: dict[str, datetime] = {}
    with (tmp_path / "truth" / "journeys.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            at = datetime.fromisoformat(row["event_at_utc"].replace("Z", "")) + timedelta(hours=1)
            if row["event"] not in ("store_purchase", "web_order"):
                continue  # pickups, returns, surveys and repeat contacts may follow a lapse
            person = persons[row["person_id"]]
            # A visit keeps its day but moves to store hours; web orders come a session later.
            assert at >= datetime.fromisoformat(person["active_from"]) - timedelta(days=1)
            if person["active_until"]:
                assert at <= datetime.fromisoformat(person["active_until"]) + timedelta(days=1)
            first_purchase[row["person_id"]] = min(at, first_purchase.get(row["person_id"], at))
    quarters = Counter((t - start).days // 90 for t in first_purchase.values() if t >= start)
    assert sorted(quarters) == [0, 1, 2, 3]
    assert max(quarters.values()) < 1.6 * min(quarters.values()), quarters
    assert sum(1 for t in first_purchase.values() if t < start) > len(first_purchase) / 3
