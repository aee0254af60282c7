"""Hand-written identity cases (issues 3 and 16): what must merge, what must not, and ids that stay put.

Each case is a few raw rows, typed as the source tools export them, added to the tiny generated
population (so Splink scores them against realistic neighbours and term frequencies). The real
resolver and stable-id assignment run on the warehouse; assertions are about customer ids.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.identity import resolve
from orchestration.identity.stable_ids import assign_stable_ids
from orchestration.ingest.loader import load_table

AT = dt.datetime(2026, 3, 14, 10, 30, tzinfo=dt.UTC)

# table -> rows (column -> value); ids carry an "X" so they never clash with generated ones.
CASES: dict[str, list[dict]] = {
    "crm_contacts": [
        # typos, accents, swapped names and phone formats across CRM, web and till
        dict(
            contact_id="X1",
            firstname="Éléonore",
            lastname="Vasseur-Quintin",
            email="eleonore.vq@orange.fr",
            phone="06 12 34 56 78",
            date_of_birth=dt.date(1979, 5, 4),
            address="12 avenue des Tilleuls",
            zip="69003",
            city="Lyon",
            loyalty_card_number="2900099999991",
        ),
        # the household: same surname, address and family e-mail, different first names and births
        dict(
            contact_id="X2",
            firstname="Bertrand",
            lastname="Ozanne",
            email="famille.ozanne@free.fr",
            phone="06 98 76 54 32",
            date_of_birth=dt.date(1961, 2, 3),
            address="4 rue Pasteur",
            zip="35000",
            city="Rennes",
        ),
        dict(
            contact_id="X3",
            firstname="Solange",
            lastname="Ozanne",
            email="famille.ozanne@free.fr",
            phone="07 11 22 33 44",
            date_of_birth=dt.date(1964, 9, 30),
            address="4 rue Pasteur",
            zip="35000",
            city="Rennes",
        ),
        # namesakes: same name and city, different birth dates, e-mails and phones
        dict(
            contact_id="X4",
            firstname="Jean",
            lastname="Martin",
            email="jean.martin.x4@laposte.net",
            phone="06 01 02 03 04",
            date_of_birth=dt.date(1950, 1, 1),
            zip="75011",
            city="Paris",
        ),
        dict(
            contact_id="X5",
            firstname="Jean",
            lastname="Martin",
            email="jeanmartin.x5@gmail.com",
            phone="06 05 06 07 08",
            date_of_birth=dt.date(1988, 7, 14),
            zip="75011",
            city="Paris",
        ),
        # namesakes who shop at different stores; a till ticket with only the name follows the store
        dict(
            contact_id="X7",
            firstname="Colette",
            lastname="Renaud",
            email="colette.renaud.x7@free.fr",
            date_of_birth=dt.date(1955, 3, 8),
            preferred_store_code="M005",
        ),
        dict(
            contact_id="X8",
            firstname="Colette",
            lastname="Renaud",
            email="c.renaud.x8@orange.fr",
            date_of_birth=dt.date(1972, 11, 20),
            preferred_store_code="M002",
        ),
        # a nickname on the till, the full first name in the CRM, one mobile number
        dict(
            contact_id="X9",
            firstname="Thomas",
            lastname="Lefort",
            email="thomas.lefort.x9@sfr.fr",
            phone="06 55 44 33 22",
            zip="44000",
            city="Nantes",
        ),
        # a household sharing a landline, an address and an e-mail, no birth dates on file
        dict(
            contact_id="X12",
            firstname="Lucien",
            lastname="Ferrand",
            email="famille.ferrand@orange.fr",
            phone="02 99 12 34 56",
            address="9 rue de Brest",
            zip="35000",
            city="Rennes",
        ),
        dict(
            contact_id="X13",
            firstname="Odile",
            lastname="Ferrand",
            email="famille.ferrand@orange.fr",
            phone="02 99 12 34 56",
            address="9 rue de Brest",
            zip="35000",
            city="Rennes",
        ),
        # issue 16: variants the first-name guard must accept, with an address and a birth date
        dict(
            contact_id="X20",
            firstname="Richard",
            lastname="Fontanel",
            email="richard.fontanel@laposte.net",
            date_of_birth=dt.date(1958, 12, 2),
            address="17 rue du Moulin",
            zip="87000",
            city="Limoges",
        ),
        dict(
            contact_id="X21",
            firstname="Hannah",
            lastname="Quemeneur",
            email="hannah.q@orange.fr",
            date_of_birth=dt.date(1993, 8, 19),
            address="2 place du Marché",
            zip="29000",
            city="Quimper",
        ),
        # Hannah's namesake in another city: a name alone cannot tell the two apart
        dict(
            contact_id="X29",
            firstname="Hannah",
            lastname="Quemeneur",
            email="h.quemeneur@free.fr",
            date_of_birth=dt.date(1971, 2, 3),
            address="40 cours Lafayette",
            zip="69003",
            city="Lyon",
        ),
        # a birth date typed with day and month swapped in the web shop, same address
        dict(
            contact_id="X22",
            firstname="Apolline",
            lastname="Garnier-Vidal",
            email="apolline.gv@gmail.com",
            date_of_birth=dt.date(1990, 4, 7),
            address="25 boulevard Carnot",
            zip="06000",
            city="Nice",
        ),
        # a household of two first names at one address ...
        dict(
            contact_id="X23",
            firstname="Sidonie",
            lastname="Carpentier",
            email="sidonie.carpentier@orange.fr",
            address="3 rue Nationale",
            zip="59000",
            city="Lille",
        ),
        dict(
            contact_id="X24",
            firstname="Gaspard",
            lastname="Carpentier",
            email="gaspard.carpentier@free.fr",
            address="3 rue Nationale",
            zip="59000",
            city="Lille",
        ),
        # guest checkout below uses this contact's e-mail
        dict(
            contact_id="X6",
            firstname="Gwenaëlle",
            lastname="Kerbrat",
            email="gwen.kerbrat@orange.fr",
            phone="06 44 55 66 77",
            zip="29200",
            city="Brest",
        ),
    ],
    "ecommerce_customers": [
        # A first name replaced (a form filled in by someone else, a field swapped), with the same
        # birth date, address and surname: one person; a household member would not share the date.
        dict(
            customer_id="X40",
            email="ysolde.kerjean@laposte.net",
            first_name="Ysolde",
            last_name="Kerjean",
            birth_date=dt.date(1971, 10, 23),
            address1="7 rue des Goelands",
            zip="29200",
            city="Brest",
        ),
        dict(
            customer_id="X41",
            email="kerjean.famille@orange.fr",
            first_name="Bertille",
            last_name="Kerjean",
            birth_date=dt.date(1971, 10, 23),
            address1="7 rue des Goelands",
            zip="29200",
            city="Brest",
        ),
        dict(
            customer_id="X10",
            email="ELEONORE.VQ@ORANGE.FR ",
            first_name="VASSEUR QUINTIN",
            last_name="Eleonore",
            phone="+33612345678",
            address1="12 av. des Tilleuls",
            zip="69003",
            city="Lyon",
        ),
        dict(customer_id="X11", email="hector.vilmorin@free.fr", first_name="Hector", last_name="Vilmorin"),
        dict(
            customer_id="X12", email="gilbert_martin.x12@wanadoo.fr", first_name="Gilbert", last_name="Martin"
        ),
        # issue 16: one person, two web accounts (a second e-mail after a forgotten password)
        dict(
            customer_id="X30",
            email="hortense.lemaire@free.fr",
            first_name="Hortense",
            last_name="Lemaire-Dubreuil",
            address1="8 rue des Lilas",
            zip="44000",
            city="Nantes",
        ),
        dict(
            customer_id="X31",
            email="hortense.ld.2024@gmail.com",
            first_name="Hortense",
            last_name="Lemaire Dubreuil",
            address1="8 r. des Lilas",
            zip="44000",
            city="Nantes",
        ),
        # nickname and spelling variant of the CRM contacts X20 and X21, same address and birth date
        dict(
            customer_id="X32",
            email="dick.fontanel@gmail.com",
            first_name="Dick",
            last_name="Fontanel",
            birth_date=dt.date(1958, 12, 2),
            address1="17 rue du Moulin",
            zip="87000",
            city="Limoges",
        ),
        dict(
            customer_id="X33",
            email="anna.quemeneur@yahoo.fr",
            first_name="Anna",
            last_name="Quéméneur",
            birth_date=dt.date(1993, 8, 19),
            address1="2 pl. du Marché",
            zip="29000",
            city="Quimper",
        ),
        # X22 with day and month swapped
        dict(
            customer_id="X34",
            email="apolline.garnier@free.fr",
            first_name="Apolline",
            last_name="Garnier Vidal",
            birth_date=dt.date(1990, 7, 4),
            address1="25 bd Carnot",
            zip="06000",
            city="Nice",
        ),
    ],
    "crm_tickets": [
        # the most common surname, an initial, and the account's e-mail: nothing else in common
        dict(ticket_id="XC1", requester_name="G. Martin", requester_email="gilbert_martin.x12@wanadoo.fr"),
    ],
    "ecommerce_orders": [
        # ... and an order with the surname and address but no first name: it must not glue the two
        dict(
            order_id="XW2",
            customer_id=None,
            email="carpentier.lille@sfr.fr",
            billing_last_name="Carpentier",
            billing_address1="3 rue Nationale",
            billing_zip="59000",
            billing_city="Lille",
        ),
        dict(
            order_id="XW1",
            customer_id=None,
            email="gwen.kerbrat@orange.fr",
            billing_first_name="Gwenaelle",
            billing_last_name="KERBRAT",
            billing_address1="3 r. de Siam",
            billing_zip="29200",
            billing_city="Brest",
        ),
    ],
    "ecommerce_web_events": [
        dict(event_id="XE1", event_type="page_view", visitor_id="Xvisitor", session_id="XS1"),
        dict(event_id="XE2", event_type="login", visitor_id="Xvisitor", session_id="XS1", customer_id="X11"),
        dict(event_id="XE3", event_type="page_view", visitor_id="Xanonymous", session_id="XS2"),
    ],
    "pos_tickets": [
        dict(
            num_ticket="XT1",
            prenom_client="Eleonor",
            nom_client="VASEUR-QUINTIN",
            tel_client="0033 6 12 34 56 78",
        ),
        # only the loyalty card: joins the CRM contact holding it
        dict(num_ticket="XT2", num_carte_fidelite="2900099999991"),
        # walk-ins typed with a placeholder e-mail: nothing in common
        dict(num_ticket="XT3", prenom_client="Ambroise", nom_client="Delacourt", email_client="test@test.fr"),
        dict(num_ticket="XT4", prenom_client="Perrine", nom_client="Fauconnet", email_client="test@test.fr"),
        # only a name, at the store one of the two Colette Renaud uses; and at a store neither uses
        dict(num_ticket="XT5", code_magasin="M002", prenom_client="Colette", nom_client="RENAUD"),
        dict(num_ticket="XT6", code_magasin="M011", prenom_client="Colette", nom_client="Renaud"),
        dict(num_ticket="XT7", prenom_client="Tom", nom_client="LEFORT", tel_client="06.55.44.33.22"),
        # a till that captures the customer's address and birth date (issue 18): no e-mail, phone
        # or card, at a store Hannah does not use, yet the address and birth date identify her
        dict(
            num_ticket="XT8",
            code_magasin="M011",
            prenom_client="Hannah",
            nom_client="QUEMENEUR",
            adresse_client="2 pl. du Marche",
            code_postal_client="29000",
            ville_client="QUIMPER",
            date_naissance_client=dt.date(1993, 8, 19),
        ),
    ],
}


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict) -> None:
    row = {"_source_file": "hand-written", "_source_line": 1, "_loaded_at": AT, **row}
    if table == "pos_tickets":
        row = {"code_magasin": "M001", "date_heure": AT, "type_ticket": "VENTE", **row}
    elif table == "ecommerce_web_events":
        row = {"event_at": AT, **row}
    else:
        key = {"crm_contacts": "createdate"}.get(table, "created_at")
        row = {key: AT, **row}
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"insert into raw.{table} ({columns}) values ({marks})", list(row.values()))


def load_with_cases(con: duckdb.DuckDBPyConnection, landing: Path, root: Path) -> None:
    """The generated exports in ``landing`` loaded into ``con``'s raw layer, plus every case."""
    for spec in ALL_TABLES:
        load_table(con, spec, landing, root / "quarantine", log=lambda _: None)
    for table, rows in CASES.items():
        for row in rows:
            _insert(con, table, row)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, generated) -> duckdb.DuckDBPyConnection:
    """The tiny generated population plus the hand-written cases, resolved once."""
    root = tmp_path_factory.mktemp("cases")
    con = duckdb.connect(str(root / "cdp.duckdb"))
    load_with_cases(con, generated.landing, root)
    resolve(con, log=lambda _: None)
    assign_stable_ids(con, "first")
    yield con
    con.close()


def ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select unique_id, customer_id from identity.customer_source_records").fetchall())


@pytest.mark.parametrize(
    "records",
    [
        pytest.param(
            ["crm_contacts:X1", "ecommerce_customers:X10", "pos_tickets:XT1"],
            id="typo-accent-swapped-names-phone-formats",
        ),
        pytest.param(["crm_contacts:X1", "pos_tickets:XT2"], id="loyalty-card-pos-crm"),
        pytest.param(["crm_contacts:X6", "ecommerce_orders:XW1"], id="guest-checkout-email-is-crm-email"),
        pytest.param(["ecommerce_customers:X11", "ecommerce_visitors:Xvisitor"], id="visitor-login"),
        pytest.param(["crm_contacts:X8", "pos_tickets:XT5"], id="name-only-ticket-at-namesakes-store"),
        pytest.param(["crm_contacts:X9", "pos_tickets:XT7"], id="nickname-with-the-same-mobile"),
        pytest.param(["ecommerce_customers:X12", "crm_tickets:XC1"], id="initial-and-email-common-surname"),
        pytest.param(
            ["ecommerce_customers:X30", "ecommerce_customers:X31"], id="two-web-accounts-one-person"
        ),
        pytest.param(["crm_contacts:X20", "ecommerce_customers:X32"], id="nickname-richard-dick"),
        pytest.param(["crm_contacts:X21", "ecommerce_customers:X33"], id="variant-hannah-anna"),
        pytest.param(["crm_contacts:X22", "ecommerce_customers:X34"], id="birth-date-day-month-swapped"),
        pytest.param(["crm_contacts:X21", "pos_tickets:XT8"], id="till-capturing-address-and-birth-date"),
        pytest.param(
            ["ecommerce_customers:X40", "ecommerce_customers:X41"], id="first-name-replaced-same-birth-date"
        ),
    ],
)
def test_must_merge(warehouse: duckdb.DuckDBPyConnection, records: list[str]) -> None:
    customer = ids(warehouse)
    assert len({customer[r] for r in records}) == 1, {r: customer[r] for r in records}


@pytest.mark.parametrize(
    "records",
    [
        pytest.param(["crm_contacts:X2", "crm_contacts:X3"], id="household-members"),
        pytest.param(["crm_contacts:X12", "crm_contacts:X13"], id="household-sharing-a-landline"),
        pytest.param(["crm_contacts:X4", "crm_contacts:X5"], id="same-common-name-different-birth-date"),
        pytest.param(["pos_tickets:XT3", "pos_tickets:XT4"], id="placeholder-email"),
        pytest.param(["crm_contacts:X7", "pos_tickets:XT5"], id="namesake-at-another-store"),
        pytest.param(
            ["crm_contacts:X7", "crm_contacts:X8", "pos_tickets:XT6"], id="name-only-at-no-ones-store"
        ),
        pytest.param(["crm_contacts:X23", "crm_contacts:X24"], id="no-first-name-is-no-bridge"),
        pytest.param(["crm_contacts:X29", "pos_tickets:XT8"], id="till-address-and-birth-date-not-namesake"),
    ],
)
def test_must_not_merge(warehouse: duckdb.DuckDBPyConnection, records: list[str]) -> None:
    customer = ids(warehouse)
    assert len({customer[r] for r in records}) == len(records), {r: customer[r] for r in records}


def test_a_visitor_never_identified_stays_anonymous(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert "ecommerce_visitors:Xanonymous" not in ids(warehouse)
    assert "ecommerce_visitors:Xvisitor" in ids(warehouse)


def test_ids_survive_a_rerun_and_a_new_record(warehouse: duckdb.DuckDBPyConnection) -> None:
    con = warehouse
    before = ids(con)
    resolve(con, log=lambda _: None)
    assign_stable_ids(con, "rerun")
    assert ids(con) == before
    changes = "select count(*) from identity.customer_id_history where run_id = 'rerun'"
    assert con.execute(changes).fetchall() == [(0,)]
    # A new till ticket with Éléonore's loyalty card joins her customer: same id, no new customer.
    _insert(con, "pos_tickets", dict(num_ticket="XT9", num_carte_fidelite="2900099999991"))
    resolve(con, log=lambda _: None)
    assign_stable_ids(con, "new-record")
    after = ids(con)
    assert after["pos_tickets:XT9"] == before["crm_contacts:X1"]
    assert {r: after[r] for r in before} == before
