"""Incremental identity (issue 19, point 2): a day of new and changed records scores only their
pairs, merges and splits customers as a full re-resolution would, and logs it in the id history.

The tiny generated population plus a few hand-written records is resolved in full; then a "day"
adds a web order that links two customers, re-delivers a CRM contact with another person's values,
and re-delivers a till ticket without its customer. Splink's predict is watched to see which
pairs the increment scores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import pytest
from splink.internals.linker_components.inference import LinkerInference

from orchestration.exports import ALL_TABLES
from orchestration.identity import ResolutionConfig, resolve
from orchestration.identity.history import record_resolution_run
from orchestration.identity.stable_ids import assign_stable_ids
from orchestration.ingest.loader import load_table
from tests.test_identity_cases import _insert

FIRST = dt.datetime(2026, 3, 14, 10, 30, tzinfo=dt.UTC)
NEXT_DAY = FIRST + dt.timedelta(days=1)
# Before: Ondine under her maiden name on the web (XB1) and her married name in the CRM (XA1) are
# two customers; Gaspard has a CRM contact and a web account with one e-mail (one customer); Lucie
# left her e-mail at a till (XT1).
BEFORE = {
    "crm_contacts": [
        dict(
            contact_id="XA1", firstname="Ondine", lastname="Vasseur", email="ondine.vasseur@laposte.net",
            phone="06 55 44 33 21", address="3 rue des Lilas", zip="44000", city="Nantes",
            lastmodifieddate=FIRST,
        ),
        dict(
            contact_id="XC1", firstname="Gaspard", lastname="Morel", email="gaspard.morel@free.fr",
            zip="21000", city="Dijon", lastmodifieddate=FIRST,
        ),
    ],
    "ecommerce_customers": [
        dict(
            customer_id="XB1", first_name="Ondine", last_name="Quintin", email="ondine.quintin@gmail.com",
            address1="18 boulevard Carnot", zip="59800", city="Lille",
        ),
        dict(
            customer_id="XD1", first_name="Gaspard", last_name="Morel", email="gaspard.morel@free.fr",
            phone="06 71 82 93 04", zip="21000", city="Dijon",
        ),
    ],
    "pos_tickets": [
        dict(num_ticket="XT1", prenom_client="Lucie", nom_client="Fabre", email_client="lfabre@sfr.fr")
    ],
}  # fmt: skip
# The day: Ondine orders as a guest under her married name with her web e-mail and her CRM phone
# (a new record linking two customers); the CRM contact XC1 is corrected to another person (a
# changed record: Gaspard's two records part); the till ticket is re-sent without its customer
# (the record disappears).
DAY = {
    "ecommerce_orders": [
        dict(
            order_id="XE1", billing_first_name="Ondine", billing_last_name="Vasseur",
            email="ondine.quintin@gmail.com", billing_phone="+33 6 55 44 33 21", billing_zip="44000",
            billing_city="Nantes",
        )
    ],
    "crm_contacts": [
        dict(
            contact_id="XC1", firstname="Lucien", lastname="Barbier", email="lucien.barbier@orange.fr",
            zip="13001", city="Marseille", lastmodifieddate=NEXT_DAY, _loaded_at=NEXT_DAY,
        )
    ],
    "pos_tickets": [dict(num_ticket="XT1", _loaded_at=NEXT_DAY)],
}  # fmt: skip
NEW_OR_CHANGED = {"ecommerce_orders:XE1", "crm_contacts:XC1"}
GONE = {"pos_tickets:XT1"}


def _add(con: duckdb.DuckDBPyConnection, rows: dict[str, list[dict]]) -> None:
    for table, table_rows in rows.items():
        for row in table_rows:
            _insert(con, table, row)


def _customers(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select unique_id, customer_id from identity.customer_source_records").fetchall())


def _partition(customers: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for record, customer in customers.items():
        groups.setdefault(customer, set()).add(record)
    return {frozenset(g) for g in groups.values()}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, generated):
    """The warehouse after a full resolution and one incremental day, with what the day scored."""
    root = tmp_path_factory.mktemp("incremental")
    con = duckdb.connect(str(root / "cdp.duckdb"))
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, root / "quarantine", log=lambda _: None)
    _add(con, BEFORE)
    first = resolve(con, log=lambda _: None)
    assign_stable_ids(con, "first")
    record_resolution_run(con, "first")
    before = _customers(con)
    con.execute("create table records_before as select * from identity.records")
    _add(con, DAY)
    scored: list[tuple[str, str]] = []

    def watched(method):
        def predict(self, *args, **kwargs):
            predictions = method(self, *args, **kwargs)
            pairs = f"select unique_id_l, unique_id_r from {predictions.physical_name}"
            scored.extend(con.execute(pairs).fetchall())
            return predictions

        return predict

    with pytest.MonkeyPatch.context() as mp:
        for name in ("predict", "predict_within", "predict_between"):
            mp.setattr(LinkerInference, name, watched(getattr(LinkerInference, name)))
        result = resolve(con, log=lambda _: None)
    ids = assign_stable_ids(con, "day")
    record_resolution_run(con, "day")
    yield con, first, before, result, scored, ids
    con.close()


def test_the_first_run_is_full_and_the_day_incremental(day) -> None:
    con, first, _, result, _, _ = day
    assert (first.mode, first.mode_reason) == ("full", "full: no previous resolution in this warehouse")
    assert result.mode == "incremental"
    assert result.changed_records == len(NEW_OR_CHANGED)
    assert result.mode_reason.startswith(f"incremental: {len(NEW_OR_CHANGED)} new or changed records of ")
    assert "1 gone" in result.mode_reason
    # The run record the identity checks compare follows the incremental run like a full one.
    runs = con.execute("select run_id, records from identity.resolution_runs order by run_number").fetchall()
    records = con.execute("select count(*) from identity.customer_source_records").fetchall()[0][0]
    assert runs[-1] == ("day", records) and runs[0][0] == "first"


def test_the_increment_scores_only_pairs_with_a_new_or_changed_record(day) -> None:
    """Only pairs with a record that is new or changed, or that holds a value (name, e-mail, phone,
    postcode) a new, changed or gone record holds or held: its term frequency moved, and its
    pairs weigh otherwise."""
    con, _, _, result, scored, _ = day
    assert scored, "the new order has pairs to score"
    touched = sorted(NEW_OR_CHANGED | GONE)
    columns = ("first_name", "last_name", "email", "phone", "postcode")
    sharing = {
        row[0]
        for row in con.execute(
            "with touched as (select * from identity.records where unique_id in ? "
            "union all by name select * from records_before where unique_id in ?) "
            "select r.unique_id from identity.records r where "
            + " or ".join(f"r.{c} in (select {c} from touched)" for c in columns),
            [touched, touched],
        ).fetchall()
    }
    assert all({left, right} & (NEW_OR_CHANGED | sharing) for left, right in scored)
    assert ("crm_contacts:XA1", "ecommerce_orders:XE1") in {tuple(sorted(p)) for p in scored}
    assert result.pairs_scored_this_run == len(scored)
    # The changed contact's old pair with Gaspard's web account is gone with its old values.
    stale = con.execute(
        """
        select count(*) from identity.scored_edges
        where 'crm_contacts:XC1' in (unique_id_l, unique_id_r)
          and 'ecommerce_customers:XD1' in (unique_id_l, unique_id_r)
        """
    ).fetchall()[0][0]
    assert stale == 0


def test_the_new_record_merges_two_customers_and_the_older_id_survives(day) -> None:
    con, _, before, _, _, ids = day
    after = _customers(con)
    a, b = before["crm_contacts:XA1"], before["ecommerce_customers:XB1"]
    assert a != b
    survivor, absorbed = con.execute(
        "select customer_id from identity.customer_registry where customer_id in (?, ?) "
        "order by created_at, customer_id",
        [a, b],
    ).fetchall()
    assert after["crm_contacts:XA1"] == after["ecommerce_customers:XB1"] == after["ecommerce_orders:XE1"]
    assert after["crm_contacts:XA1"] == survivor[0]
    merged = con.execute(
        "select customer_id, into_customer_id from identity.customer_id_history "
        "where run_id = 'day' and change = 'merged'"
    ).fetchall()
    assert (absorbed[0], survivor[0]) in merged
    assert ids["merged"] >= 1


def test_the_changed_record_splits_its_customer_and_the_gone_record_disappears(day) -> None:
    con, _, before, _, _, _ = day
    after = _customers(con)
    assert before["crm_contacts:XC1"] == before["ecommerce_customers:XD1"]
    assert after["crm_contacts:XC1"] != after["ecommerce_customers:XD1"]
    split = con.execute(
        "select into_customer_id from identity.customer_id_history where run_id = 'day' and change = 'split'"
    ).fetchall()
    assert (before["crm_contacts:XC1"],) in split
    assert "pos_tickets:XT1" in before and "pos_tickets:XT1" not in after
    mentions = con.execute(
        "select count(*) from identity.scored_edges where 'pos_tickets:XT1' in (unique_id_l, unique_id_r)"
    ).fetchall()[0][0]
    assert mentions == 0


def test_the_increment_equals_a_full_re_resolution_then_settings_decide(day) -> None:
    con, _, _, _, _, _ = day
    incremental = _customers(con)
    full = resolve(con, log=lambda _: None, full=True)
    assign_stable_ids(con, "full")
    assert (full.mode, full.mode_reason) == ("full", "full: full re-resolution requested")
    assert _partition(_customers(con)) == _partition(incremental)
    assert _customers(con) == incremental  # the same clusters keep their ids
    # Nothing new: an increment with nothing to score.
    again = resolve(con, log=lambda _: None)
    assert (again.mode, again.changed_records, again.pairs_scored_this_run) == ("incremental", 0, 0)
    assert again.clustered_records == 0
    # Raw rows removed, or the stores changed: every record is standardised again (and, for the
    # stores, clustered again), and the run stays incremental.
    con.execute("delete from raw.pos_tickets where num_ticket = 'XT1' and nom_client is not null")
    lines: list[str] = []
    again = resolve(con, log=lines.append)
    assert (again.mode, again.changed_records) == ("incremental", 0)
    assert (
        "standardising every record: raw rows were removed since the previous resolution (pos_tickets)"
        in lines
    )
    con.execute("update raw.pos_stores set ville = 'Lyon' where code_magasin = 'M001'")
    lines.clear()
    again = resolve(con, log=lines.append)
    assert (again.mode, again.clustered_records) == ("incremental", again.records)
    assert {
        "standardising every record: the stores changed",
        "clustering every record: the stores changed",
    } <= set(lines)
    # A changed setting makes the run full, and says which.
    config = ResolutionConfig()
    changed = dataclasses.replace(
        config, identity=dataclasses.replace(config.identity, match_probability=0.6)
    )
    result = resolve(con, changed, log=lambda _: None)
    assert result.mode == "full"
    assert result.mode_reason == "full: identity settings changed (matching.match_probability)"
    assert resolve(con, changed, log=lambda _: None).mode == "incremental"
    # Another model (retrained, or a new shipped one) makes the run full too; it finds that out
    # after marking the records to score again, which leaves no trace in the scored pairs.
    con.execute("update identity.resolution_state set model_digest = 'another model'")
    result = resolve(con, changed, log=lambda _: None)
    assert (result.mode, result.mode_reason) == ("full", "full: the model changed")
    columns = [c for c, *_ in con.execute("describe identity.scored_edges").fetchall()]
    assert not [c for c in columns if "rescore" in c]
    assert resolve(con, changed, log=lambda _: None).mode == "incremental"
    # A warehouse resolved before incremental runs existed has no state to build on.
    con.execute("drop table identity.resolution_state")
    result = resolve(con, changed, log=lambda _: None)
    assert (
        result.mode_reason
        == "full: the previous resolution kept no state to build on (made before incremental runs)"
    )
