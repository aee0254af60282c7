"""Publishing only what changed: a second publication rewrites the tables whose content fingerprint
changed and keeps the others, and the result is the file a full publication would have written.

A tiny warehouse made by hand (three marts and one vocabulary seed), so each test runs in a second."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from orchestration.serving import publish
from orchestration.serving.publish import Mart, Publication, Vocabulary, publish_marts

MARTS = [
    Mart(
        "channels",
        description="Sales **channels**.",
        schema="reference",
        vocabulary=Vocabulary("channel", frozenset({"channel"})),
    ),
    Mart(
        "dim_customers",
        description="One row per `customer`.",
        column_descriptions={"email": "Their e-mail.", "channel": "First channel."},
        pii_columns=frozenset({"email"}),
    ),
    Mart("fct_orders", description="Orders.", column_descriptions={"amount": "Paid, in euros."}),
    Mart("mart_kpi", description="A KPI per month."),
]
NAMES = sorted(m.name for m in MARTS)


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema marts; create schema reference")
    con.execute(
        "create table reference.channels as select * from (values "
        "('web', 'Web shop', 'Site web'), ('store', 'Store', 'Magasin')) as t(channel, label_en, label_fr)"
    )
    con.execute(
        "create table marts.dim_customers as select * from (values "
        "('C1', 'a@x.fr', 'web'), ('C2', 'b@x.fr', 'store'), ('C3', null, 'app')) "
        "as t(customer_id, email, channel)"
    )
    con.execute(
        "create table marts.fct_orders as select 'O' || i as order_id, (i * 1.5)::decimal(10, 2) as amount, "
        "if(i % 2 = 0, 'web', 'store') as channel, ['a', 'b'] as tags from range(20) as r(i)"
    )
    con.execute(
        "create table marts.mart_kpi as select date '2026-01-01' + to_months(i::int) as month, "
        "i * 0.1 as rate from range(6) as r(i)"
    )
    yield con
    con.close()


def _publish(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    run_id: str,
    *,
    marts: list[Mart] = MARTS,
    salt: str = "s",
    clear_pii: frozenset[str] = frozenset(),
    language: str = "en",
) -> Publication:
    return publish_marts(
        con, marts, out / "marts.duckdb", out / "parquet",
        salt=salt, clear_pii=clear_pii, run_id=run_id, language=language,
    )  # fmt: skip


def _files(out: Path) -> dict[str, tuple[int, int]]:
    """Parquet file → (inode, mtime in ns): what changes when a file is written again."""
    return {p.stem: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "parquet").glob("*.parquet")}


def _contents(path: Path) -> dict[str, object]:
    """Every table of a published file as a BI tool reads it: columns with types and comments, the
    table comment, the rows (sorted); ``_publication`` without what depends on the run."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {}
        for name, comment in con.execute("select table_name, comment from duckdb_tables()").fetchall():
            columns = con.execute(
                "select column_name, data_type, comment from duckdb_columns() where table_name = ? "
                "order by column_index",
                [name],
            ).fetchall()
            select = "mart, row_count, fingerprint" if name == "_publication" else "*"
            rows = sorted(con.execute(f'select {select} from "{name}"').fetchall(), key=repr)
            tables[name] = (comment, columns, rows)
        return tables
    finally:
        con.close()


def _parquet_rows(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, list[tuple]]:
    return {
        name: sorted(con.execute(f"select * from '{out / 'parquet' / name}.parquet'").fetchall(), key=repr)
        for name in NAMES
    }


def test_only_the_changed_mart_is_rewritten_and_an_open_reader_keeps_its_snapshot(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    out = tmp_path / "serving"
    first = _publish(warehouse, out, "run-1")
    assert first.full_reason == "first publication" and sorted(first.rewritten) == NAMES
    files, before = _files(out), _contents(out / "marts.duckdb")
    reader = duckdb.connect(str(out / "marts.duckdb"), read_only=True)
    old_orders = reader.execute("select count(*), sum(amount) from fct_orders").fetchall()

    warehouse.execute("update marts.fct_orders set amount = amount + 100 where order_id = 'O3'")
    second = _publish(warehouse, out, "run-2")

    assert second.rewritten == ["fct_orders"] and sorted(second.kept) == sorted(set(NAMES) - {"fct_orders"})
    assert second.summary == "rewrote 1 of 4 tables, kept 3"
    changed = {name for name, stat in _files(out).items() if stat != files[name]}
    assert changed == {"fct_orders"}
    # The reader opened before the second publication still reads the rows it opened.
    assert reader.execute("select count(*), sum(amount) from fct_orders").fetchall() == old_orders
    assert reader.execute("select distinct run_id from _publication").fetchall() == [("run-1",)]
    reader.close()
    after = _contents(out / "marts.duckdb")
    for name in set(NAMES) - {"fct_orders"}:
        assert after[name] == before[name], name
    published = duckdb.connect(str(out / "marts.duckdb"), read_only=True)
    assert published.execute("select amount from fct_orders where order_id = 'O3'").fetchall()[0][0] == 104.5
    # Every row names this publication; each table names the run that last wrote it.
    written = dict(published.execute("select mart, written_run_id from _publication").fetchall())
    assert written == {name: "run-2" if name == "fct_orders" else "run-1" for name in NAMES}
    assert published.execute("select distinct run_id from _publication").fetchall() == [("run-2",)]
    published.close()
    assert not list(out.rglob("*.tmp*"))

    third = _publish(warehouse, out, "run-3")
    assert third.rewritten == [] and third.summary == "rewrote 0 of 4 tables, kept 4"


def test_language_labels_pii_and_code_changes_republish_the_tables_they_shape(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "serving"
    _publish(warehouse, out, "en")
    # The labels: the seed itself and the two marts with a channel_label, not the KPI.
    labelled = ["channels", "dim_customers", "fct_orders"]
    assert _publish(warehouse, out, "fr", language="fr").rewritten == labelled
    check = duckdb.connect(str(out / "marts.duckdb"), read_only=True)
    assert check.execute(
        "select channel_label from fct_orders where channel = 'store' limit 1"
    ).fetchall() == [("Magasin",)]
    check.close()
    warehouse.execute("update reference.channels set label_fr = 'Boutique' where channel = 'store'")
    assert _publish(warehouse, out, "relabelled", language="fr").rewritten == labelled
    # PII in clear, then a new salt: only the table with a PII column.
    assert _publish(warehouse, out, "clear", language="fr", clear_pii=frozenset({"email"})).rewritten == [
        "dim_customers"
    ]
    assert _publish(warehouse, out, "keys", language="fr").rewritten == ["dim_customers"]
    assert _publish(warehouse, out, "salt", language="fr", salt="t").rewritten == ["dim_customers"]
    # A column comment, then a type: only that table.
    described = [m if m.name != "mart_kpi" else Mart("mart_kpi", description="Monthly KPI.") for m in MARTS]
    assert _publish(warehouse, out, "doc", language="fr", salt="t", marts=described).rewritten == ["mart_kpi"]
    warehouse.execute("alter table marts.mart_kpi alter rate type decimal(10, 2)")
    assert _publish(warehouse, out, "type", language="fr", salt="t", marts=described).rewritten == [
        "mart_kpi"
    ]
    # Another version of the publication code: everything.
    monkeypatch.setattr(publish, "PUBLICATION_CODE", "another version")
    assert (
        sorted(_publish(warehouse, out, "code", language="fr", salt="t", marts=described).rewritten) == NAMES
    )


def test_an_incremental_publication_equals_a_full_one(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """After a series of changes (rows, a dropped mart, labels), the incrementally built file and
    Parquet files hold exactly what a publication from scratch of the same warehouse holds."""
    out, scratch = tmp_path / "serving", tmp_path / "scratch"
    _publish(warehouse, out, "1")
    warehouse.execute("insert into marts.dim_customers values ('C4', 'D@x.fr ', 'web')")
    _publish(warehouse, out, "2")
    without_kpi = [m for m in MARTS if m.name != "mart_kpi"]
    dropped = _publish(warehouse, out, "3", marts=without_kpi)
    assert dropped.rewritten == [] and "mart_kpi" not in _contents(out / "marts.duckdb")
    assert not (out / "parquet" / "mart_kpi.parquet").exists()
    warehouse.execute("delete from marts.fct_orders where order_id = 'O7'")
    warehouse.execute("update marts.mart_kpi set rate = rate * 2")
    incremental = _publish(warehouse, out, "4", language="fr")
    assert incremental.full_reason is None and "mart_kpi" in incremental.rewritten
    full = _publish(warehouse, scratch, "4", language="fr")
    assert full.full_reason == "first publication"
    assert _contents(out / "marts.duckdb") == _contents(scratch / "marts.duckdb")
    assert _parquet_rows(warehouse, out) == _parquet_rows(warehouse, scratch)
    assert incremental.rows == full.rows and incremental.pseudonymised == full.pseudonymised


@pytest.mark.parametrize("damage", ["garbage", "no fingerprints", "other format"])
def test_a_previous_file_without_usable_fingerprints_means_a_full_publication(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, damage: str
) -> None:
    out = tmp_path / "serving"
    _publish(warehouse, out, "1")
    target = out / "marts.duckdb"
    if damage == "garbage":
        target.write_bytes(os.urandom(4096))
    else:
        con = duckdb.connect(str(target))
        if damage == "no fingerprints":  # a file from before fingerprints
            con.execute("alter table _publication drop column fingerprint")
        else:
            con.execute("update _publication set fingerprint = 'fp0:' || fingerprint")
        con.close()
    again = _publish(warehouse, out, "2")
    assert again.full_reason and sorted(again.rewritten) == NAMES
    assert _contents(target) == _contents(_publish(warehouse, tmp_path / "scratch", "2").path)
