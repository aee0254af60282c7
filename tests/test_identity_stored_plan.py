"""An identity increment reuses the last full resolution's field plan and block caps instead of
estimating them over every named record, and scores exactly the pairs it would have scored had it
estimated them again (when the estimate finds the same caps).

The same day is resolved twice from one warehouse copy: once as the code runs (the stored plan),
once with the stored plan removed from ``identity.resolution_state`` (a state kept by an older
version: the increment estimates the plan and the caps, as before).
"""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.identity import ResolutionConfig, model, resolve, splink_inputs
from orchestration.identity.stable_ids import assign_stable_ids
from orchestration.ingest.loader import load_table
from tests.test_identity_incremental import BEFORE, DAY, _add


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory, generated):
    """Per way of running the day ("stored", "estimated", "model changed": an increment that turns
    full when it finds the model changed): the warehouse after it, its log lines, and the keys whose
    pairs per cap were estimated."""
    root = tmp_path_factory.mktemp("stored_plan")
    start = root / "start.duckdb"
    con = duckdb.connect(str(start))
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, root / "quarantine", log=lambda _: None)
    _add(con, BEFORE)
    resolve(con, log=lambda _: None)
    assign_stable_ids(con, "first")
    _add(con, DAY)
    con.close()
    runs = {}
    changed = json.loads(model.MODEL_PATH.read_text())
    changed["comparisons"][0]["comparison_levels"][1]["m_probability"] *= 0.9
    (root / "changed.json").write_text(json.dumps(changed))
    for way in ("stored", "estimated", "model changed"):
        shutil.copy(start, root / f"{way}.duckdb")
        con = duckdb.connect(str(root / f"{way}.duckdb"))
        if way == "estimated":
            con.execute("update identity.resolution_state set field_plan = null")
        lines: list[str] = []
        estimates: list[str] = []
        estimate = splink_inputs._pairs_by_cap

        def counted(c, key, tiers, estimate=estimate, estimates=estimates):
            estimates.append(key)
            return estimate(c, key, tiers)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(splink_inputs, "_pairs_by_cap", counted)
            config = ResolutionConfig(trained_model=root / "changed.json" if way == "model changed" else None)
            result = resolve(con, config, log=lines.append)
        assign_stable_ids(con, "day")
        runs[way] = (con, result, lines, estimates)
    yield runs
    for con, *_ in runs.values():
        con.close()


def _caps(con: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    state = con.execute("select field_plan from identity.resolution_state").fetchall()[0][0]
    return None if state is None else json.loads(state)["blocking"]["block_caps"]


def test_a_full_resolution_keeps_its_plan_and_the_increment_reuses_it(days) -> None:
    con, result, lines, estimates = days["stored"]
    assert result.mode == "incremental"
    assert estimates == [], "no pairs per cap are estimated when the caps are reused"
    fields = next(line for line in lines if line.startswith("fields populated"))
    blocking = next(line for line in lines if line.startswith("blocking: "))
    assert fields.startswith("fields populated (the last full resolution's (")
    assert blocking.startswith("blocking: the last full resolution's (")
    # Carried over for the next increment: the full resolution's caps, the ones it used.
    assert _caps(con) == result.blocking["block_caps"]


def test_without_a_stored_plan_the_increment_estimates_it(days) -> None:
    con, result, lines, estimates = days["estimated"]
    assert result.mode == "incremental"
    assert estimates, "the pairs per cap are estimated as before"
    assert not any("last full resolution's" in line for line in lines if line.startswith("fields"))
    assert _caps(con) is None


def test_the_reused_caps_score_the_same_pairs_and_give_the_same_customers(days) -> None:
    stored, estimated = days["stored"], days["estimated"]
    # The estimate finds the same caps on this day's records: the pairs must then be the same.
    assert stored[1].blocking["block_caps"] == estimated[1].blocking["block_caps"]
    assert stored[1].pairs_scored_this_run == estimated[1].pairs_scored_this_run > 0
    queries = (
        "select unique_id_l, unique_id_r, round(match_weight, 9) from identity.scored_edges order by all",
        "select * from identity.blocking_keys order by unique_id",
        "select unique_id, customer_id from identity.customer_source_records order by all",
    )
    for query in queries:
        assert stored[0].execute(query).fetchall() == estimated[0].execute(query).fetchall(), query


def test_an_increment_that_turns_full_estimates_the_plan_afresh(days) -> None:
    con, result, lines, estimates = days["model changed"]
    assert (result.mode, result.mode_reason) == ("full", "full: the model changed")
    assert "estimating the field plan and the blocking afresh for a full run" in lines
    assert estimates, "the pairs per cap are estimated as a full run's"
    assert _caps(con) == result.blocking["block_caps"]


def test_given_caps_key_the_records_as_estimated_caps_do_even_without_person_evidence() -> None:
    """Data with names and addresses only (no e-mail, phone or birth date to weigh a block by): the
    caps are estimated, and the same caps given back key every record alike."""
    con = duckdb.connect()
    con.execute("create schema identity")
    con.execute(
        """
        create temp table splink_named as
        select 'crm_contacts:' || i as unique_id, 'crm_contacts' as source_system,
               ['Anne', 'Paul', 'Marie'][i % 3 + 1] as first_name,
               ['Martin', 'Bernard'][i % 2 + 1] as last_name,
               null::varchar as full_name, null::varchar as email, null::varchar as phone,
               null::varchar as birth_date, null::int as birth_year, null::int as birth_month,
               null::int as birth_day, ['44000', '69001', '75011', '13001'][i % 4 + 1] as postcode,
               null::varchar as city, 'rue ' || (i % 7) as street, (i % 5)::varchar as house_number,
               ['MRTN', 'BRNR'][i % 2 + 1] as last_name_sound
        from range(200) t(i)
        """
    )
    plan = model.ModelPlan({"first_name": 1.0, "last_name": 1.0, "postcode": 1.0, "street": 1.0}, 0.01, 200)
    keyed = "select * from splink_keyed order by unique_id"
    _, estimated = splink_inputs.build_inputs(con, 2.0, plan)
    assert set(estimated.block_caps) == set(plan.blocking_keys) and estimated.pairs
    first = con.execute(keyed).fetchall()
    _, given = splink_inputs.build_inputs(con, 2.0, plan, blocking=estimated)
    assert given == estimated
    assert con.execute(keyed).fetchall() == first
