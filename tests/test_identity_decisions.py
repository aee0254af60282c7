"""A data steward's decisions (``identity.decisions``): a cannot-link splits a customer the model
merged and keeps it split through incremental runs, full runs and a warehouse rebuilt from the
landing files; a must-link joins two customers the model kept apart; revoking a decision gives the
model's result back; customer ids follow the survival rules (a merge keeps the older id, a split
leaves the id with the part holding most records).

The tiny generated population is loaded and resolved in-process (real Splink, the shipped model
saved as the one "trained on this warehouse"), as a run does without dbt.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.identity.decisions import (
    CANNOT_LINK,
    MUST_LINK,
    DecisionError,
    decide,
    read_decisions,
    revoke,
)
from orchestration.identity.merge import merge_clusters
from tests.conftest import customer_ids as _customer
from tests.conftest import load_raw as _load
from tests.conftest import resolve_in_process as _run
from tests.test_identity_cases import _insert
from tests.test_identity_keep import LATER


@pytest.fixture
def copy(resolved: Path, tmp_path: Path) -> Path:
    shutil.copy(resolved / "cdp.duckdb", tmp_path / "cdp.duckdb")
    shutil.copy(resolved / "model.json", tmp_path / "model.json")
    return tmp_path


def _merged_customer(con: duckdb.DuckDBPyConnection) -> tuple[str, str, list[str]]:
    """A customer of three or more records joined by an exact identifier among others: its id, one
    of its records linked deterministically (not its smallest), and its other records."""
    customer_id, records = con.execute(
        """
        select customer_id, list(unique_id order by unique_id) from identity.customer_source_records
        group by customer_id
        having count(*) >= 3 and count(*) filter (where match_method = 'deterministic') >= 2
        order by count(*) desc, customer_id limit 1
        """
    ).fetchall()[0]
    method = dict(
        con.execute(
            "select unique_id, match_method from identity.customer_source_records where customer_id = ?",
            [customer_id],
        ).fetchall()
    )
    record = next(r for r in records[1:] if method[r] == "deterministic")
    return customer_id, record, [r for r in records if r != record]


def test_a_cannot_link_splits_a_customer_and_it_stays_split(copy: Path, generated) -> None:
    decisions = copy / "decisions.jsonl"
    with duckdb.connect(str(copy / "cdp.duckdb")) as con:
        customer_id, record, others = _merged_customer(con)
        why = "a household's shared card"
        decision = decide(con, decisions, CANNOT_LINK, [record], customer_id, why, "ana")
        assert (decision.side_a, set(decision.side_b)) == ((record,), set(others))

        result = _run(con, copy, "split")
        assert result.mode == "incremental"
        ids = _customer(con)
        # The part holding most of its records keeps the id; the record split off gets a new one.
        assert {ids[r] for r in others} == {customer_id}
        assert ids[record] != customer_id
        assert (
            con.execute(
                "select count(*) from identity.customer_id_history "
                "where run_id = 'split' and change = 'split' and into_customer_id = ?",
                [customer_id],
            ).fetchall()[0][0]
            == 1
        )
        # The exact link that joined them is refused, and says by which decision.
        guards = con.execute(
            "select distinct guard from identity.edges where guard like '%steward%'"
        ).fetchall()
        assert guards == [(f"conflicting steward cannot-link {decision.decision_id}",)]
        assert con.execute("select holds from identity.steward_decision_status").fetchall() == [(True,)]

        # A day brings a new contact of the person split off: the part is clustered again, still apart.
        first, last, email = con.execute(
            "select first_name, last_name, coalesce(email, 'split.off@example.org') from identity.records "
            "where unique_id = ?",
            [record],
        ).fetchall()[0]
        day = dict(contact_id="XDAY1", firstname=first, lastname=last, email=email, _loaded_at=LATER)
        _insert(con, "crm_contacts", {**day, "lastmodifieddate": LATER})
        result = _run(con, copy, "day")
        assert result.mode == "incremental" and result.changed_records == 1
        assert record in con.execute("select unique_id from identity.connected_parts where part_id = "
                                     "(select part_id from identity.connected_parts where unique_id = "
                                     "'crm_contacts:XDAY1')").fetchnumpy()["unique_id"]  # fmt: skip
        ids = _customer(con)
        assert {ids[r] for r in others} == {customer_id} and ids[record] != customer_id

        _run(con, copy, "full", full=True)
        ids = _customer(con)
        assert {ids[r] for r in others} == {customer_id} and ids[record] != customer_id

    # A warehouse rebuilt from the landing files: the decision lives in the data folder.
    (copy / "cdp.duckdb").unlink()
    with duckdb.connect(str(copy / "cdp.duckdb")) as con:
        _load(con, generated.landing, copy)
        assert _run(con, copy, "rebuilt").mode == "full"
        ids = _customer(con)
        assert len({ids[r] for r in others}) == 1 and ids[record] != ids[others[0]]


def test_a_must_link_joins_two_customers_and_the_older_id_survives(copy: Path) -> None:
    decisions = copy / "decisions.jsonl"
    with duckdb.connect(str(copy / "cdp.duckdb")) as con:
        (a, record_a), (b, record_b) = con.execute(
            """
            select customer_id, min(unique_id) from identity.customer_source_records
            group by customer_id having count(*) = 1 order by customer_id limit 2
            """
        ).fetchall()
        # b is made the older customer: its id must survive the merge.
        con.execute(
            "update identity.customer_registry set created_at = created_at - interval 1 day "
            "where customer_id = ?",
            [b],
        )
        decision = decide(con, decisions, MUST_LINK, [a], b, "same person, two e-mails", "ana")
        assert _run(con, copy, "merge").mode == "incremental"
        ids = _customer(con)
        assert ids[record_a] == ids[record_b] == b
        assert con.execute(
            "select into_customer_id from identity.customer_id_history "
            "where run_id = 'merge' and change = 'merged' and customer_id = ?",
            [a],
        ).fetchall() == [(b,)]
        method = dict(
            con.execute("select unique_id, match_method from identity.customer_source_records").fetchall()
        )
        assert method[record_a] == method[record_b] == "steward"
        holds, note = con.execute("select holds, note from identity.steward_decision_status").fetchall()[0]
        # Two random customers: the model had good reasons to keep them apart, and the status says so.
        assert holds and note.startswith("joined against the evidence")

        # Revoked, the model's result comes back; the merged id stays retired, as after any split.
        revoke(decisions, decision.decision_id, "wrong merge", "ben")
        _run(con, copy, "revoked")
        ids = _customer(con)
        assert ids[record_a] != ids[record_b]
        assert ids[record_b] == b
        assert con.execute("select count(*) from identity.steward_decision_status").fetchall()[0][0] == 0


def test_revoking_a_cannot_link_joins_the_records_again(copy: Path) -> None:
    decisions = copy / "decisions.jsonl"
    with duckdb.connect(str(copy / "cdp.duckdb")) as con:
        before = _customer(con)
        customer_id, record, _ = _merged_customer(con)
        decision = decide(con, decisions, CANNOT_LINK, [record], customer_id, "looked wrong", "ana")
        _run(con, copy, "split")
        assert _customer(con)[record] != customer_id
        revoke(decisions, decision.decision_id, "it was right", "ben")
        _run(con, copy, "unsplit")
        # Every record is where the model put it before the decision, under the same id.
        assert _customer(con) == before


def test_decisions_are_checked_when_made_and_when_read(copy: Path) -> None:
    decisions = copy / "decisions.jsonl"
    with duckdb.connect(str(copy / "cdp.duckdb"), read_only=True) as con:
        (a,), (b,) = con.execute(
            "select distinct customer_id from identity.customer_source_records order by 1 limit 2"
        ).fetchall()
        decide(con, decisions, MUST_LINK, [a], b, "same person", "ana")
        with pytest.raises(DecisionError, match="D1 on the same records says the opposite: revoke it first"):
            decide(con, decisions, CANNOT_LINK, [a], b, "not the same", "ana")
        with pytest.raises(DecisionError, match="no customer 'Cnobody'"):
            decide(con, decisions, MUST_LINK, ["Cnobody"], b, "", "ana")
        with pytest.raises(DecisionError, match="no identity record 'pos_tickets:nothing'"):
            decide(con, decisions, MUST_LINK, ["pos_tickets:nothing"], b, "", "ana")
    with decisions.open("a") as out:
        out.write('{"event": "revoked", "decision_id": "D9", "by": "x", "at": "2026-12-07T10:00:00+00:00"}\n')
    with pytest.raises(DecisionError, match=r"decisions.jsonl, line 2: revokes D9, which no line before"):
        read_decisions(decisions)


def test_a_cannot_link_refuses_any_link_between_its_sides() -> None:
    """The walk itself: a chain a-b-c with a cannot-link between a and c joins a and b, and refuses
    b-c; the opposite sides never meet, whichever link comes first."""
    clusters = [(c, ()) for c in "abc"]
    merged, refused = merge_clusters(clusters, [("a", "b"), ("b", "c")], apart={"a": [1], "c": [-1]})
    assert merged == {"b": "a"} and refused == [(1, "steward cannot-link D1")]
    merged, refused = merge_clusters(clusters, [("b", "c"), ("a", "b")], apart={"a": [1], "c": [-1]})
    assert set(merged) | set(merged.values()) == {"b", "c"} and refused == [(1, "steward cannot-link D1")]


def test_the_dagster_job_records_a_split_and_its_sensor_asks_for_the_run_that_applies_it(
    resolved: Path, settings
) -> None:
    import dagster as dg

    from orchestration.defs.identity import identity_resolution
    from orchestration.defs.resources import build_resources
    from orchestration.defs.steward import apply_steward_decisions
    from tests.conftest import run_job

    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copy(resolved / "cdp.duckdb", settings.warehouse_path)
    settings.trained_model_path.parent.mkdir(parents=True)
    shutil.copy(resolved / "model.json", settings.trained_model_path)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        customer_id, record, others = _merged_customer(con)
    instance = dg.DagsterInstance.ephemeral()
    config = {"action": "split", "a": record, "b": customer_id, "why": "two people", "by": "ana"}
    result = run_job(
        "identity_steward_decision", settings, instance=instance,
        run_config={"ops": {"record_decision": {"config": config}}},
    )  # fmt: skip
    assert result.success
    (decision,) = read_decisions(settings.steward_decisions_path).items
    assert (decision.kind, decision.side_a, decision.decided_by) == (CANNOT_LINK, (record,), "ana")
    context = dg.build_run_status_sensor_context(
        sensor_name="apply_steward_decisions",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
    )
    request = apply_steward_decisions(context)
    assert isinstance(request, dg.RunRequest) and request.job_name in (None, "full_pipeline")
    # What that run's identity step does with it.
    resources = build_resources(settings)
    assert dg.materialize([identity_resolution], resources=resources, instance=instance).success
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        ids = _customer(con)
    assert {ids[r] for r in others} == {customer_id} and ids[record] != customer_id


def test_the_cli_records_lists_and_revokes_decisions(resolved: Path, settings) -> None:
    from typer.testing import CliRunner

    from orchestration.cli import app

    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copy(resolved / "cdp.duckdb", settings.warehouse_path)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        customer_id, record, _ = _merged_customer(con)
    cli = CliRunner()
    split = cli.invoke(app, ["identity", "split", record, customer_id, "--why", "two people", "--by", "ana"])
    assert split.exit_code == 0, split.output
    assert split.output.startswith(f"D1: {record} and {customer_id} kept apart (1 + ")
    again = cli.invoke(app, ["identity", "merge", record, customer_id, "--why", "one person"])
    assert again.exit_code == 2 and "D1 on the same records says the opposite" in again.output
    listed = cli.invoke(app, ["identity", "decisions", "list"])
    assert f"D1  split  {record}  |  {customer_id}" in listed.output and "by ana" in listed.output
    revoked = cli.invoke(app, ["identity", "decisions", "revoke", "D1", "--why", "mistake", "--by", "ben"])
    assert revoked.exit_code == 0 and "D1 revoked by ben" in revoked.output
    assert "No decision in force" in cli.invoke(app, ["identity", "decisions", "list"]).output
    assert "revoked by ben" in cli.invoke(app, ["identity", "decisions", "list", "--all"]).output
    unknown = cli.invoke(app, ["identity", "split", "pos_tickets:nothing", customer_id, "--why", "x"])
    assert unknown.exit_code == 2 and "no identity record 'pos_tickets:nothing'" in unknown.output
