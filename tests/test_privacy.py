"""Privacy requests on the pipeline's warehouse: the right of access (``cdp privacy export``) and
the right to erasure (``cdp privacy erase``), with the suppression that keeps an erased person out."""

import csv
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.settings import Settings
from tests.conftest import query

# Column types that cannot hold a name, an e-mail or a phone.
NOT_TEXT = (
    "BIGINT",
    "INTEGER",
    "DOUBLE",
    "FLOAT",
    "BOOLEAN",
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE",
)


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


def _hits(database: Path, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every text-like column of every table and view holding a needle."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and not list_contains(?, data_type) "
            "and not starts_with(data_type, 'DECIMAL')",
            [list(NOT_TEXT)],
        ).fetchall()
        return [
            (f"{schema}.{table}", column, needle)
            for schema, table, column in columns
            for needle in needles
            if con.execute(
                f'select count(*) from "{schema}"."{table}" where contains(lower("{column}"::varchar), ?)',
                [needle.lower()],
            ).fetchall()[0][0]
        ]
    finally:
        con.close()


def _file_hits(serving: Path, needles: list[str]) -> list[tuple[str, str]]:
    """(file, needle) for every Parquet, HTML, JSON or CSV file under ``serving`` holding a needle."""
    hits = []
    for path in sorted(p for p in serving.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            text = " ".join(
                str(row) for row in duckdb.sql(f"select * from read_parquet('{path}')").fetchall()
            )
        elif path.suffix in (".html", ".json", ".csv", ".txt"):
            text = path.read_text(encoding="utf-8", errors="replace")
        else:
            continue
        hits += [(str(path.relative_to(serving)), n) for n in needles if n.lower() in text.lower()]
    return hits


def _everywhere(settings: Settings, needles: list[str]) -> list:
    """Every place holding a needle: warehouse, BI copy, Parquet, reports, audience files."""
    return [
        *_hits(settings.warehouse_path, needles),
        *_hits(settings.serving_dir / "marts.duckdb", needles),
        *_file_hits(settings.serving_dir, needles),
        *_file_hits(settings.data_dir / "activation", needles),
    ]


def _raw_counts(settings: Settings) -> dict[str, int]:
    """Rows of every raw table (the load log aside: it has a row per file)."""
    tables = query(settings, "select table_name from information_schema.tables where table_schema = 'raw' "
                   "and table_type = 'BASE TABLE' and table_name <> 'load_log' order by 1")  # fmt: skip
    return {t: query(settings, f"select count(*) from raw.{t}")[0][0] for (t,) in tables}


def _person(settings: Settings) -> tuple[str, str, str, str]:
    """A customer of several systems with an e-mail and a phone, whose last name nobody else has."""
    ((customer_id, email, phone, last_name),) = query(
        settings,
        """
        select c.customer_id, c.email, c.phone, c.last_name
        from marts.dim_customers as c
        join identity.customer_source_records as b using (customer_id)
        where c.email is not null and c.phone is not null and c.last_name is not null
          and not exists (
              select 1 from identity.records as r join identity.customer_source_records as o using (unique_id)
              where o.customer_id <> c.customer_id and r.last_name = cdp_std_name(c.last_name)
          )
        group by all
        having count(distinct b.source_system) >= 3
        order by count(*) desc, 1
        limit 1
        """,
    )
    return customer_id, email, phone, last_name


def _one_record(settings: Settings, customer_id: str) -> tuple[str, int]:
    """The file and line of one CSV record of the person (a CRM contact or a web order)."""
    ((file, line),) = query(
        settings,
        f"""
        select _source_file, _source_line from raw.crm_contacts
        where contact_id in (select source_record_id from identity.customer_source_records
                             where customer_id = '{customer_id}' and source_system = 'crm_contacts')
        union all
        select _source_file, _source_line from raw.ecommerce_orders
        where order_id in (select source_record_id from identity.customer_source_records
                           where customer_id = '{customer_id}' and source_system = 'ecommerce_orders')
        order by 1, 2
        limit 1
        """,
    )
    return file, line


def _redeliver(
    settings: Settings, file: str, line: int, name: str = "redelivered.csv", broken: bool = False
) -> Path:
    """A later export that still holds the person: that record again, in a new file; ``broken``:
    with one field too many, so that the line goes to quarantine with their data in its text."""
    lines = (settings.landing_dir / file).read_bytes().split(b"\n")
    record = lines[line - 1].rstrip(b"\r")
    if broken:
        record += b";extra" if b";" in lines[0] else b",extra"
    again = settings.landing_dir / file.replace(Path(file).name.split("_", 1)[1], name)
    again.write_bytes(lines[0] + b"\n" + record + b"\n")
    return again


def _later_order(settings: Settings, email: str, last_name: str) -> None:
    """``ecommerce/orders_later.csv``: a guest order W-LATER-1 with ``email`` and ``last_name`` (the
    rest copied from a delivered order), and ``order_lines_later.csv`` with one line of it."""
    for pattern, name, changes in (
        (
            "orders_*.csv",
            "orders_later.csv",
            {"customer_id": "", "email": email, "billing_last_name": last_name},
        ),
        ("order_lines_*.csv", "order_lines_later.csv", {"line_number": "1"}),
    ):
        source = sorted((settings.landing_dir / "ecommerce").glob(pattern))[0]
        with source.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            row = {**next(reader), "order_id": "W-LATER-1", **changes}
            with (source.parent / name).open("w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
                writer.writeheader()
                writer.writerow(row)


def _ids_held(settings: Settings, records: list[str], customer_id: str) -> list[tuple[str, str]]:
    """(table, column) of every identity table holding one of ``records`` (identity record ids) and
    every marts / serving table holding ``customer_id``, compared whole."""
    columns = query(
        settings,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where (table_schema = 'identity' and column_name in ('unique_id', 'unique_id_l', 'unique_id_r')) "
        "or (table_schema not in ('raw', 'identity') and column_name = 'customer_id')",
    )
    held = []
    for schema, table, column in columns:
        values = ", ".join(f"'{v}'" for v in (records if schema == "identity" else [customer_id]))
        ((n,),) = query(
            settings, f'select count(*) from {schema}."{table}" where "{column}"::varchar in ({values})'
        )
        if n:
            held.append((f"{schema}.{table}", column))
    return held


def _quarantined(settings: Settings) -> set[tuple[str, int]]:
    return set(query(settings, "select file_path, line_number from raw.quarantine_rows"))


def test_an_erased_person_is_nowhere_and_stays_out_of_later_loads(copied: Settings) -> None:
    settings = copied
    customer_id, email, phone, last_name = _person(settings)
    # Their identifiers as every source typed them and standardised, and their (unique) last name.
    typed = query(
        settings,
        f"""
        select distinct unnest([email, phone]) from identity.records where unique_id in (
            select unique_id from identity.customer_source_records where customer_id = '{customer_id}')
        """,
    )
    needles = sorted({email, phone.removeprefix("+33"), last_name, *(v for (v,) in typed if v)})
    assert _everywhere(settings, needles), "the scan finds the person before the erasure"
    records = [
        r
        for (r,) in query(
            settings,
            f"select unique_id from identity.customer_source_records where customer_id = '{customer_id}'",
        )
    ]
    assert _ids_held(settings, records, customer_id)
    record = _one_record(settings, customer_id)
    # A later delivery of theirs that could not be read: kept in quarantine, their data in its text.
    unreadable = _redeliver(settings, *record, name="unreadable.csv", broken=True)
    unreadable_path = unreadable.relative_to(settings.landing_dir).as_posix()
    loaded = CliRunner().invoke(app, ["run"])
    assert loaded.exit_code == 0, loaded.output
    assert query(
        settings, f"select count(*) from raw.quarantine_rows where file_path = '{unreadable_path}'"
    ) == [(1,)]
    before = _raw_counts(settings)

    # Their access export shows that line too, with the reason it could not be loaded.
    out = settings.data_dir.parent / "access.json"
    exported = CliRunner().invoke(app, ["privacy", "export", "--customer-id", customer_id, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    lines = json.loads(out.read_text(encoding="utf-8"))["quarantined_lines"]
    assert [(q["file_path"], q["line_number"]) for q in lines if q["file_path"] == unreadable_path] == [
        (unreadable_path, 2)
    ]
    dry_run = CliRunner().invoke(app, ["privacy", "erase", "--email", email, "--dry-run"])
    assert dry_run.exit_code == 0 and "Would erase 1 customer(s), " in dry_run.output, dry_run.output

    erased = CliRunner().invoke(app, ["privacy", "erase", "--email", email])
    assert erased.exit_code == 0, erased.output
    assert _everywhere(settings, needles) == []
    # Nor their record ids in identity tables, nor their customer id in a mart (the id is kept
    # only as retired in identity's registry and history: it no longer leads to anything).
    assert _ids_held(settings, records, customer_id) == []
    ((request_id, found_by, removed, customers),) = query(
        settings, "select request_id, found_by, rows_removed, customers from privacy.requests"
    )
    removed = json.loads(removed)
    assert found_by == "email" and customers == 1 and request_id in erased.output
    assert removed["raw.quarantine_rows"] >= len(lines) >= 1
    assert not [q for q in lines if (q["file_path"], q["line_number"]) in _quarantined(settings)]
    # The dry run announced exactly what was erased.
    announced = dry_run.output.split("identity records: ", 1)[1].strip()
    assert announced == ", ".join(f"{n} rows of {t}" for t, n in removed.items()), (announced, removed)
    # The rest of the data is unchanged: the raw tables and quarantine lost exactly the erased rows,
    # and every file still reconciles (the blocking check would have failed the run).
    after = _raw_counts(settings)
    assert {t: before[t] - after[t] for t in before if before[t] != after[t]} == {
        t.removeprefix("raw."): n for t, n in removed.items()
    }
    assert "rows_reconcile passed" in erased.output and "rows_reconcile FAILED" not in erased.output

    # The same landing files loaded again into a new warehouse, with a later export that still
    # holds one of their records: they stay out, and every suppressed row is counted.
    settings.warehouse_path.unlink()
    redelivered = _redeliver(settings, *record)
    # And a new web order with their e-mail and last name, its line in a file of its own (order
    # lines load before orders: the line is erased when its order turns out to be theirs).
    _later_order(settings, email, last_name)
    rerun = CliRunner().invoke(app, ["run"])
    assert rerun.exit_code == 0, rerun.output
    assert _everywhere(settings, needles) == []
    assert _raw_counts(settings) == after
    assert query(settings, "select count(*) from raw.ecommerce_order_lines where order_id = 'W-LATER-1'") == [
        (0,)
    ]
    kept_out = dict(
        query(
            settings,
            "select file_path, rows_suppressed + rows_erased from raw.load_log "
            "where rows_suppressed + rows_erased > 0",
        )
    )
    # Every erased row and quarantined line was delivered again, plus the later exports' three.
    assert sum(kept_out.values()) == sum(removed.values()) + 3
    assert kept_out[redelivered.relative_to(settings.landing_dir).as_posix()] == 1
    assert kept_out[unreadable_path] == 1
    assert kept_out["ecommerce/orders_later.csv"] == kept_out["ecommerce/order_lines_later.csv"] == 1
    assert query(settings, "select request_id from privacy.requests") == [
        (request_id,)
    ]  # the audit outlives it


def _customer_with_records(settings: Settings, n: int) -> list[str]:
    return [
        c
        for (c,) in query(
            settings,
            "select customer_id from identity.customer_source_records "
            f"group by 1 order by count(*) desc, 1 limit {n}",
        )
    ]


def test_retention_reports_first_then_erases_the_customers_past_their_window(copied: Settings) -> None:
    settings = copied
    # The test data spans a year, within any window: two customers are made due, as if their last
    # activity were older than three years (the window's arithmetic has its dbt unit test).
    due = _customer_with_records(settings, 2)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute(
        "update marts.dim_customer_data_retention set is_beyond_retention = list_contains(?, customer_id)",
        [due],
    )
    con.close()
    before = _raw_counts(settings)

    dry = CliRunner().invoke(app, ["privacy", "retention"])
    assert dry.exit_code == 0, dry.output
    assert "2 customer(s) past their retention window" in dry.output and "nothing erased" in dry.output
    review = (settings.data_dir / "privacy" / "retention_review.csv").read_text().splitlines()
    assert review[0] == "customer_id,retention_rule,last_activity_at,retained_until"
    assert {line.split(",")[0] for line in review[1:]} == set(due)
    assert _raw_counts(settings) == before  # a dry run erases nothing

    applied = CliRunner().invoke(app, ["privacy", "retention", "--apply"])
    assert applied.exit_code == 0, applied.output
    ((kind, found_by, customers),) = query(settings, "select kind, found_by, customers from privacy.requests")
    assert (kind, found_by, customers) == ("retention", "retention", 2)
    assert query(
        settings,
        f"select count(*) from identity.customer_source_records where list_contains({due}, customer_id)",
    ) == [(0,)]
    assert query(
        settings, f"select count(*) from marts.dim_customers where list_contains({due}, customer_id)"
    ) == [(0,)]
    # Only their records are suppressed, not their e-mails or phones: someone who comes back
    # later starts a new relationship.
    kinds = {
        row.split(",")[0]
        for row in (settings.data_dir / "privacy" / "suppressions.csv").read_text().splitlines()[1:]
    }
    assert kinds == {"record"}


def test_the_dagster_erasure_job_erases_and_requests_a_rebuild(copied: Settings) -> None:
    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.defs.privacy import rebuild_after_erasure
    from orchestration.defs.resources import build_resources

    settings = copied
    (customer_id,) = _customer_with_records(settings, 1)
    instance = dg.DagsterInstance.ephemeral()
    result = (
        build_definitions()
        .resolve_job_def("privacy_erase")
        .execute_in_process(
            run_config={"ops": {"erase_person": {"config": {"customer_id": customer_id}}}},
            resources=build_resources(settings),
            instance=instance,
        )
    )
    assert result.success
    assert query(settings, "select customers, found_by from privacy.requests") == [(1, "customer_id")]
    (erased,) = query(settings, "select rows_removed from privacy.requests")[0]
    assert sum(json.loads(erased).values()) > 0
    remaining = query(
        settings,
        "select count(*) from raw.crm_contacts where contact_id in (select source_record_id from "
        f"identity.customer_source_records where customer_id = '{customer_id}' "
        "and source_system = 'crm_contacts')",
    )
    assert remaining == [(0,)]
    context = dg.build_run_status_sensor_context(
        sensor_name="rebuild_after_erasure",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
    )
    request = rebuild_after_erasure(context)
    assert isinstance(request, dg.RunRequest) and request.job_name in (None, "full_pipeline")
