"""An increment standardises only the records of new deliveries and clusters only the part of the
records a day touched (``cluster_increment.cluster_part``): the result must be the full
resolution's (issue 19, "daily runs that cost what changed").

Each case is a warehouse of its own: the tiny generated population plus a few hand-written records
is resolved in full, a day of records is added and resolved incrementally, then

- the clustering is redone from scratch on the same scored pairs (``cluster.cluster_all``): the
  clusters, every edge with its guard, and the attachment values must be the increment's exactly;
- the same records are resolved in full (``full=True``): the customers must be the increment's.

Real DuckDB and Splink, as in test_identity_incremental.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.identity import cluster
from orchestration.identity.config import load_identity_settings
from orchestration.identity.resolution import WORK_SCHEMA, resolve
from orchestration.identity.stable_ids import IDS_PENDING, assign_stable_ids
from orchestration.ingest.loader import load_table
from tests.test_identity_cases import _insert

FIRST = dt.datetime(2026, 3, 14, 10, 30, tzinfo=dt.UTC)
NEXT_DAY = FIRST + dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Case:
    before: dict[str, list[dict]]
    day: dict[str, list[dict]]
    # (record, record, together before, together after)
    expect: tuple[tuple[str, str, bool, bool], ...]


NAMESAKES = [
    dict(
        contact_id="YM1", firstname="Mathis", lastname="Kerbrat", email="mathis.kerbrat@sfr.fr",
        date_of_birth=dt.date(1985, 6, 9), zip="56000", city="Vannes", preferred_store_code="M001",
        lastmodifieddate=FIRST,
    ),
    dict(
        contact_id="YM2", firstname="Mathis", lastname="Kerbrat", email="kerbrat.m@gmail.com",
        date_of_birth=dt.date(1962, 1, 30), zip="13008", city="Marseille", preferred_store_code="M001",
        lastmodifieddate=FIRST,
    ),
]  # fmt: skip

CASES = {
    # Ondine under her maiden name on the web and her married name in the CRM; a guest order with
    # her web e-mail and her CRM phone links the two.
    "a new record merges two customers": Case(
        before={
            "crm_contacts": [
                dict(
                    contact_id="YA1", firstname="Ondine", lastname="Vasseur",
                    email="ondine.vasseur@laposte.net", phone="06 55 44 33 21", address="3 rue des Lilas",
                    zip="44000", city="Nantes", lastmodifieddate=FIRST,
                )
            ],
            "ecommerce_customers": [
                dict(
                    customer_id="YB1", first_name="Ondine", last_name="Quintin",
                    email="ondine.quintin@gmail.com", address1="18 boulevard Carnot", zip="59800",
                    city="Lille",
                )
            ],
        },
        day={
            "ecommerce_orders": [
                dict(
                    order_id="YE1", billing_first_name="Ondine", billing_last_name="Vasseur",
                    email="ondine.quintin@gmail.com", billing_phone="+33 6 55 44 33 21", billing_zip="44000",
                    billing_city="Nantes", _loaded_at=NEXT_DAY,
                )
            ]
        },
        expect=(
            ("crm_contacts:YA1", "ecommerce_customers:YB1", False, True),
            ("crm_contacts:YA1", "ecommerce_orders:YE1", False, True),
        ),
    ),
    # Gaspard's CRM contact is corrected to another person: his two records part.
    "a changed record splits a customer": Case(
        before={
            "crm_contacts": [
                dict(
                    contact_id="YC1", firstname="Gaspard", lastname="Morel", email="gaspard.morel@free.fr",
                    zip="21000", city="Dijon", lastmodifieddate=FIRST,
                )
            ],
            "ecommerce_customers": [
                dict(
                    customer_id="YD1", first_name="Gaspard", last_name="Morel", email="gaspard.morel@free.fr",
                    phone="06 71 82 93 04", zip="21000", city="Dijon",
                )
            ],
        },
        day={
            "crm_contacts": [
                dict(
                    contact_id="YC1", firstname="Lucien", lastname="Barbier",
                    email="lucien.barbier@orange.fr",
                    zip="13001", city="Marseille", lastmodifieddate=NEXT_DAY, _loaded_at=NEXT_DAY,
                )
            ]
        },
        expect=(("crm_contacts:YC1", "ecommerce_customers:YD1", True, False),),
    ),
    # A survey answer gives only an e-mail, which one customer holds.
    "a new record attaches by a unique e-mail": Case(
        before={
            "crm_contacts": [
                dict(
                    contact_id="YF1", firstname="Séverine", lastname="Lachaud",
                    email="severine.lachaud@wanadoo.fr", zip="87000", city="Limoges", lastmodifieddate=FIRST,
                )
            ]
        },
        day={
            "survey_responses": [
                dict(response_id="YS1", respondent_email=" Severine.Lachaud@wanadoo.fr", _loaded_at=NEXT_DAY)
            ]
        },
        expect=(("crm_contacts:YF1", "survey_responses:YS1", False, True),),
    ),
    # A family e-mail: a survey answer with it joined the one customer using it, until another
    # member of the family (another first name: not one person) gives it too.
    "a value becomes shared by a third cluster": Case(
        before={
            "crm_contacts": [
                dict(
                    contact_id="YG1", firstname="Aurélien", lastname="Caradec",
                    email="caradec.famille@orange.fr",
                    phone="06 21 43 65 87", date_of_birth=dt.date(1970, 4, 2), zip="29200", city="Brest",
                    lastmodifieddate=FIRST,
                )
            ],
            "survey_responses": [dict(response_id="YS2", respondent_email="caradec.famille@orange.fr")],
        },
        day={
            "crm_contacts": [
                dict(
                    contact_id="YG2", firstname="Maëlys", lastname="Caradec",
                    email="caradec.famille@orange.fr",
                    phone="07 98 76 54 31", date_of_birth=dt.date(1999, 11, 23), zip="29200", city="Brest",
                    lastmodifieddate=NEXT_DAY, _loaded_at=NEXT_DAY,
                )
            ]
        },
        expect=(
            ("crm_contacts:YG1", "survey_responses:YS2", True, False),
            ("crm_contacts:YG1", "crm_contacts:YG2", False, False),
        ),
    ),
    # A till ticket with only a name joined the one customer of that name at its store, until a
    # namesake of that store arrives: the full name at the store is then ambiguous. The namesake is
    # linked to nothing else: only the name at the store connects the day to the ticket.
    "a full name at a store becomes ambiguous": Case(
        before={
            "crm_contacts": [
                dict(
                    contact_id="YH1", firstname="Mathis", lastname="Kerbrat", email="mathis.kerbrat@sfr.fr",
                    date_of_birth=dt.date(1985, 6, 9), zip="56000", city="Vannes",
                    preferred_store_code="M001",
                    lastmodifieddate=FIRST,
                )
            ],
            "pos_tickets": [
                dict(
                    num_ticket="YT1", prenom_client="Mathis", nom_client="Kerbrat",
                    code_postal_client="56100",
                    ville_client="Lorient",
                )
            ],
        },
        day={
            "crm_contacts": [
                dict(
                    contact_id="YH2", firstname="Mathis", lastname="Kerbrat", email="kerbrat.m@gmail.com",
                    date_of_birth=dt.date(1962, 1, 30), zip="13008", city="Marseille",
                    preferred_store_code="M001", lastmodifieddate=NEXT_DAY, _loaded_at=NEXT_DAY,
                )
            ]
        },
        expect=(
            ("crm_contacts:YH1", "pos_tickets:YT1", True, False),
            ("crm_contacts:YH1", "crm_contacts:YH2", False, False),
        ),
    ),
    # Two namesakes at one store make the name at that store ambiguous: a till ticket with only
    # that name joins neither, and the day's ticket neither (the increment does not even look at
    # them: the value is ambiguous whatever it does).
    "a new record with an ambiguous name at a store": Case(
        before={"crm_contacts": NAMESAKES},
        day={
            "pos_tickets": [
                dict(
                    num_ticket="YT3", prenom_client="Mathis", nom_client="Kerbrat",
                    code_postal_client="56100", ville_client="Lorient", _loaded_at=NEXT_DAY,
                )
            ]
        },
        expect=(
            ("crm_contacts:YM1", "pos_tickets:YT3", False, False),
            ("crm_contacts:YM2", "pos_tickets:YT3", False, False),
        ),
    ),
    # ... until one of the two is corrected to another person: the ticket then joins the other.
    "an ambiguous name at a store becomes unique": Case(
        before={
            "crm_contacts": NAMESAKES,
            "pos_tickets": [
                dict(
                    num_ticket="YT2", prenom_client="Mathis", nom_client="Kerbrat",
                    code_postal_client="56100", ville_client="Lorient",
                )
            ],
        },
        day={
            "crm_contacts": [
                dict(
                    contact_id="YM2", firstname="Lucien", lastname="Barbier",
                    email="lucien.barbier@orange.fr", zip="13001", city="Marseille",
                    lastmodifieddate=NEXT_DAY, _loaded_at=NEXT_DAY,
                )
            ]
        },
        expect=(("crm_contacts:YM1", "pos_tickets:YT2", False, True),),
    ),
    # A web account re-delivered with the e-mail, phone and town of the CRM contact of that name.
    "a redelivered record with changed values": Case(
        before={
            "crm_contacts": [
                dict(
                    contact_id="YJ1", firstname="Honorine", lastname="Belmont",
                    email="honorine.belmont@free.fr",
                    phone="06 44 55 66 77", zip="37000", city="Tours", lastmodifieddate=FIRST,
                )
            ],
            "ecommerce_customers": [
                dict(
                    customer_id="YK1", first_name="Honorine", last_name="Belmont",
                    email="hbelmont33@gmail.com",
                    zip="33000", city="Bordeaux",
                )
            ],
        },
        day={
            "ecommerce_customers": [
                dict(
                    customer_id="YK1", first_name="Honorine", last_name="Belmont",
                    email="honorine.belmont@free.fr", phone="+33644556677", zip="37000", city="Tours",
                    _loaded_at=NEXT_DAY,
                )
            ]
        },
        expect=(("crm_contacts:YJ1", "ecommerce_customers:YK1", False, True),),
    ),
}  # fmt: skip


def _add(con: duckdb.DuckDBPyConnection, rows: dict[str, list[dict]]) -> None:
    for table, table_rows in rows.items():
        for row in table_rows:
            if table == "survey_responses":  # _insert gives other tables their creation time
                row = {"_source_file": "hand-written", "_source_line": 1, "_loaded_at": FIRST, **row}
                columns, marks = ", ".join(row), ", ".join("?" * len(row))
                sql = f"insert into raw.survey_responses ({columns}) values ({marks})"
                con.execute(sql, list(row.values()))
            else:
                _insert(con, table, row)


def _customers(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select unique_id, customer_id from identity.customer_source_records").fetchall())


def _partition(labels: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for record, label in labels.items():
        groups.setdefault(label, set()).add(record)
    return {frozenset(g) for g in groups.values()}


def _clustering(con: duckdb.DuckDBPyConnection) -> tuple[set, set, set, set]:
    """The clusters (as a partition), edges, flagged clusters (by their records) and attachment values."""
    clusters = dict(con.execute("select unique_id, cluster_id from identity.clusters").fetchall())
    edges = set(
        con.execute(
            "select unique_id_l, unique_id_r, method, guard, match_weight from identity.edges"
        ).fetchall()
    )
    flagged = set(con.execute("select cluster_id, records from identity.flagged_clusters").fetchall())
    values = set(con.execute("select unique_id, kind, value from identity.attachment_values").fetchall())
    return _partition(clusters), edges, flagged, values


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request, tmp_path_factory: pytest.TempPathFactory, generated):
    """A warehouse resolved in full, then after one incremental day; with the customers of each."""
    case = CASES[request.param]
    root = tmp_path_factory.mktemp("exact")
    con = duckdb.connect(str(root / "cdp.duckdb"))
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, root / "quarantine", log=lambda _: None)
    _add(con, case.before)
    resolve(con, log=lambda _: None)
    assign_stable_ids(con, "first")
    before = _customers(con)
    _add(con, case.day)
    lines: list[str] = []
    result = resolve(con, log=lines.append)
    # What the day's ids are assigned from, kept to assign them again over every record.
    con.execute(
        f"""
        create schema before_ids;
        create table before_ids.customer_source_records as select * from identity.customer_source_records;
        create table before_ids.customer_registry as select * from identity.customer_registry;
        create table before_ids.pending as select * from {IDS_PENDING};
        """
    )
    assign_stable_ids(con, "day")
    con.execute(f"create table before_ids.pending_after as select * from {IDS_PENDING}")
    yield con, case, before, result, lines
    con.close()


def test_the_day_standardises_and_clusters_only_a_part(case) -> None:
    _, _, _, result, lines = case
    assert result.mode == "incremental"
    assert [line for line in lines if line.startswith("standardised again: ")]
    assert not [line for line in lines if "every record" in line]
    part = [line for line in lines if line.startswith("clustered again: ")]
    assert len(part) == 1
    clustered = int(part[0].removeprefix("clustered again: ").split(" records")[0].replace(",", ""))
    assert 0 < clustered < result.records / 10


def test_the_day_does_what_the_case_says(case) -> None:
    con, case_, before, _, _ = case
    after = _customers(con)
    for left, right, together_before, together_after in case_.expect:
        if left in before and right in before:
            assert (before[left] == before[right]) == together_before, (left, right, "before")
        assert (after[left] == after[right]) == together_after, (left, right, "after")


def test_the_part_clustered_equals_clustering_everything(case) -> None:
    con, _, _, _, _ = case
    incremental = _clustering(con)
    con.execute(f"create schema if not exists {WORK_SCHEMA}")
    try:
        cluster.cluster_all(con, WORK_SCHEMA, load_identity_settings())
    finally:
        con.execute(f"drop schema if exists {WORK_SCHEMA} cascade")
    full = _clustering(con)
    assert incremental[0] == full[0], "clusters"
    assert incremental[1] == full[1], "edges"
    assert incremental[2] == full[2], "flagged clusters"
    assert incremental[3] == full[3], "attachment values"


def _ids(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple], list[tuple]]:
    """Every record's customer id and evidence, and the day's id history (without its time)."""
    records = con.execute("select * from identity.customer_source_records order by unique_id").fetchall()
    history = con.execute(
        "select change, customer_id, into_customer_id, records from identity.customer_id_history "
        "where run_id = 'day' order by all"
    ).fetchall()
    return records, history


def test_ids_assigned_to_the_part_equal_ids_assigned_to_every_record(case) -> None:
    """The day gave ids to the records of the part only (``identity.ids_pending``); assigning them
    again over every record, from the same previous ids, changes nothing."""
    con, _, _, result, _ = case
    pending = con.execute("select count(*) from before_ids.pending").fetchall()[0][0]
    assert 0 < pending < result.records / 10
    assert con.execute("select count(*) from before_ids.pending_after").fetchall()[0][0] == 0
    day = _ids(con)
    con.execute(
        f"""
        create or replace table identity.customer_source_records as
        select * from before_ids.customer_source_records;
        create or replace table identity.customer_registry as select * from before_ids.customer_registry;
        delete from identity.customer_id_history where run_id = 'day';
        drop table if exists {IDS_PENDING};
        """
    )
    assign_stable_ids(con, "day")
    assert _ids(con) == day


def test_the_day_equals_a_full_re_resolution(case) -> None:
    con, _, _, _, _ = case
    incremental = _customers(con)
    resolve(con, log=lambda _: None, full=True)
    assign_stable_ids(con, "full")
    assert _partition(_customers(con)) == _partition(incremental)


# Zéphyrine Quintavalle's CRM contact and web account: one rare name, one town, two e-mails (a
# pair Splink scores). A namesake in Lyon arrives: the name now has three holders.
RARE_NAME_BEFORE = {
    "crm_contacts": [
        dict(
            contact_id="YT1", firstname="Zéphyrine", lastname="Quintavalle", email="z.quintavalle@free.fr",
            address="7 rue de Siam", zip="29200", city="Brest", lastmodifieddate=FIRST,
        )
    ],
    "ecommerce_customers": [
        dict(
            customer_id="YT2", first_name="Zéphyrine", last_name="Quintavalle", email="zephy.q@gmail.com",
            address1="7 rue de Siam", zip="29200", city="Brest",
        )
    ],
}  # fmt: skip
RARE_NAME_DAY = {
    "crm_contacts": [
        dict(
            contact_id="YT3", firstname="Zéphyrine", lastname="Quintavalle", email="zquintavalle@orange.fr",
            zip="69003", city="Lyon", lastmodifieddate=NEXT_DAY, _loaded_at=NEXT_DAY,
        )
    ]
}  # fmt: skip


def _bayes_factor(con: duckdb.DuckDBPyConnection, a: str, b: str) -> float:
    """log2 of the pair's Bayes factor: its match weight without the prior it was scored with."""
    prior = con.execute("select prior from identity.resolution_state").fetchall()[0][0]
    weight = con.execute(
        "select match_weight from identity.scored_edges where (unique_id_l, unique_id_r) in ((?, ?), (?, ?))",
        [a, b, b, a],
    ).fetchall()[0][0]
    return weight - math.log2(prior / (1 - prior))


def test_a_kept_pair_whose_rare_name_gains_a_holder_weighs_what_a_full_resolution_gives(
    tmp_path, generated
) -> None:
    """Term frequencies move with the records: a third holder of a rare name makes it weaker
    evidence for the two who had it. The increment scores their pair again (neither record
    changed), so its weight is a full re-resolution's, the prior aside."""
    con = duckdb.connect(str(tmp_path / "cdp.duckdb"))
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, tmp_path / "quarantine", log=lambda _: None)
    _add(con, RARE_NAME_BEFORE)
    resolve(con, log=lambda _: None)
    pair = ("crm_contacts:YT1", "ecommerce_customers:YT2")
    before = _bayes_factor(con, *pair)
    _add(con, RARE_NAME_DAY)
    assert resolve(con, log=lambda _: None).mode == "incremental"
    day = _bayes_factor(con, *pair)
    resolve(con, log=lambda _: None, full=True)
    full = _bayes_factor(con, *pair)
    con.close()
    assert before - day > 0.5  # two holders of the name, then three: weaker evidence
    assert day == pytest.approx(full, abs=1e-6)
