"""``cdp identity explain``: the verdict on pairs of a tiny resolved warehouse (the real resolver on
the generated population, as tests/test_identity_cases.py runs it), and the command's exits."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.exports import ALL_TABLES
from orchestration.identity import load_identity_settings, resolve
from orchestration.identity.cluster import FIRST_NAME_GUARD
from orchestration.identity.explain import Explanation, UnknownRecord, explain_pair, report_lines
from orchestration.identity.model import MODEL_PATH
from orchestration.identity.stable_ids import assign_stable_ids
from orchestration.ingest.loader import load_table

# Two named records in two customers, with no edge between them, and whether they share a blocking
# key: the SQL below fills {shared}.
APART = """
with named as (
    select k.*, c.customer_id from identity.blocking_keys k
    join identity.customer_source_records c using (unique_id)
),
pairs as (
    select a.unique_id as a, b.unique_id as b,
           coalesce(a.email = b.email or a.phone = b.phone or a.block_name = b.block_name
                    or a.block_surname_place = b.block_surname_place
                    or a.block_street_place = b.block_street_place
                    or a.block_birth_date = b.block_birth_date
                    or a.block_surname_sound = b.block_surname_sound, false) as shared
    from named a join named b on a.unique_id < b.unique_id and a.customer_id <> b.customer_id
)
select a, b from pairs p
where shared = {shared}
  and not exists (select 1 from identity.edges e where e.unique_id_l = p.a and e.unique_id_r = p.b)
  and not exists (select 1 from identity.scored_edges s
                  where (s.unique_id_l = p.a and s.unique_id_r = p.b)
                     or (s.unique_id_l = p.b and s.unique_id_r = p.a))
order by a, b limit 1
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, generated) -> Path:
    """A CDP_DATA_DIR whose warehouse holds the tiny generated population, resolved once."""
    root = tmp_path_factory.mktemp("explain")
    warehouse = root / "warehouse" / "cdp.duckdb"
    warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(warehouse))
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, root / "quarantine", log=lambda _: None)
    resolve(con, log=lambda _: None)
    assign_stable_ids(con, "first")
    con.close()
    return root


def _warehouse(data_dir: Path) -> Path:
    return data_dir / "warehouse" / "cdp.duckdb"


def _one(data_dir: Path, sql: str) -> tuple:
    con = duckdb.connect(str(_warehouse(data_dir)), read_only=True)
    try:
        rows = con.execute(sql).fetchall()
    finally:
        con.close()
    assert rows, f"the tiny warehouse holds no such pair: {sql}"
    return rows[0]


def _explain(data_dir: Path, a: str, b: str) -> Explanation:
    explanation = explain_pair(_warehouse(data_dir), a, b, load_identity_settings(), (MODEL_PATH,))
    assert report_lines(explanation)[0] == explanation.verdict
    return explanation


def test_a_pair_no_blocking_rule_compares(data_dir: Path) -> None:
    a, b = _one(data_dir, APART.format(shared="false"))
    e = _explain(data_dir, a, b)
    assert e.verdict.startswith("Kept apart: never compared by a blocking rule"), e.verdict
    assert e.named and not e.shared_rules and not e.same_customer
    assert "Blocking: never compared: no blocking rule puts them in one block" in report_lines(e)


def test_a_pair_compared_but_scored_below_the_threshold(data_dir: Path) -> None:
    a, b = _one(data_dir, APART.format(shared="true"))
    e = _explain(data_dir, a, b)
    # The run keeps no pair under 0.5: the pair is scored again with the run's model and prior.
    assert e.score is not None and e.score.source == "rescored"
    assert e.score.probability < e.threshold == 0.5
    assert e.verdict == f"Kept apart: scored {e.score.probability:.2f} < 0.5 (match threshold)"
    assert e.shared_rules


def test_scoring_again_gives_the_runs_score(data_dir: Path) -> None:
    """A kept pair scored again here comes out as the run scored it (same model, prior, frequencies)."""
    from orchestration.identity import explain

    a, b, probability = _one(
        data_dir,
        "select unique_id_l, unique_id_r, match_probability from identity.scored_edges order by 1, 2",
    )
    con = duckdb.connect()
    con.execute(f"attach '{_warehouse(data_dir)}' as wh (read_only)")
    state = explain._state(con, explain._identity_tables(con))
    fitted = explain._run_model(state, (MODEL_PATH,))
    assert fitted is not None
    again = explain._rescore(con, a, b, fitted, {})
    con.close()
    assert again is not None and again.probability == pytest.approx(probability, abs=1e-9)


def test_a_link_refused_by_the_first_name_guard(data_dir: Path) -> None:
    a, b = _one(
        data_dir,
        f"""
        select e.unique_id_l, e.unique_id_r from identity.edges e
        join identity.customer_source_records l on l.unique_id = e.unique_id_l
        join identity.customer_source_records r on r.unique_id = e.unique_id_r
        where e.guard = '{FIRST_NAME_GUARD}' and l.customer_id <> r.customer_id
        order by 1, 2
        """,
    )
    e = _explain(data_dir, a, b)
    assert e.verdict.startswith("Kept apart: link refused by the first-name guard (different first names)"), (
        e.verdict
    )
    assert e.score is not None and e.score.source == "kept" and e.score.probability >= 0.5
    # Every comparison of the kept pair says its level in words, with the weight the run gave it.
    levels = {level.comparison: level for level in e.score.levels}
    assert "first_name_last_name" in levels and all(level.label for level in levels.values())


def test_one_customer_directly_and_through_other_records(data_dir: Path) -> None:
    a, b, customer = _one(
        data_dir,
        """
        select e.unique_id_l, e.unique_id_r, l.customer_id from identity.edges e
        join identity.customer_source_records l on l.unique_id = e.unique_id_l
        join identity.customer_source_records r on r.unique_id = e.unique_id_r
        where e.method = 'probabilistic' and e.guard is null and l.customer_id = r.customer_id
        order by 1, 2
        """,
    )
    e = _explain(data_dir, a, b)
    assert e.same_customer
    assert e.verdict.startswith(f"Same customer {customer}: linked directly ("), e.verdict
    assert "probabilistic, " in e.verdict
    # Two records of one customer with no edge between them: a path through the others.
    a, b, customer = _one(
        data_dir,
        """
        select a.unique_id, b.unique_id, a.customer_id
        from identity.customer_source_records a
        join identity.customer_source_records b on a.customer_id = b.customer_id and a.unique_id < b.unique_id
        where not exists (select 1 from identity.edges e
                          where e.unique_id_l = a.unique_id and e.unique_id_r = b.unique_id)
        order by 1, 2
        """,
    )
    e = _explain(data_dir, a, b)
    assert e.verdict.startswith(f"Same customer {customer}: linked through "), e.verdict
    assert e.path and e.path[0].left in (a, e.path[0].right) and len(e.path) >= 2
    ends = {e.path[0].left, e.path[0].right} | {e.path[-1].left, e.path[-1].right}
    assert {a, b} <= ends


def test_an_unknown_record_names_the_id_format(data_dir: Path) -> None:
    with pytest.raises(UnknownRecord, match="source_system:source_record_id"):
        _explain(data_dir, "crm_contacts:nobody", "pos_tickets:nothing")


def test_the_command_exits_2_on_an_unknown_record_or_no_warehouse(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDP_DATA_DIR", str(data_dir))
    a, b = _one(data_dir, "select unique_id_l, unique_id_r from identity.edges order by 1, 2")
    result = CliRunner().invoke(app, ["identity", "explain", a, "crm_contacts:nobody"])
    assert result.exit_code == 2
    assert "no record 'crm_contacts:nobody'" in result.output
    assert "source_system:source_record_id" in result.output
    shown = CliRunner().invoke(app, ["identity", "explain", a, b])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(("Same customer", "Kept apart"))
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "empty"))
    missing = CliRunner().invoke(app, ["identity", "explain", a, b])
    assert missing.exit_code == 2 and "No warehouse" in missing.output
