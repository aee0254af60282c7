"""Identity resolution on generated data (issue 3, work in progress): real DuckDB and real Splink."""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.identity import model, resolve
from orchestration.identity.evaluate import baseline_clusters, load_truth, score
from orchestration.identity.splink_inputs import BLOCK_CAPS
from orchestration.identity.standardise import install_macros
from orchestration.ingest.loader import load_table
from orchestration.settings import Settings
from tests.conftest import Generated


@pytest.fixture
def resolved(landed: Settings, con) -> duckdb.DuckDBPyConnection:
    for spec in ALL_TABLES:
        load_table(con, spec, landed.landing_dir, landed.quarantine_dir, log=lambda _: None)
    result = resolve(con, log=lambda _: None)
    assert not result.trained  # the model saved in the repository is reused
    return con


def test_every_identity_record_is_clustered_once_and_merges_are_explained(
    resolved: duckdb.DuckDBPyConnection, generated: Generated
) -> None:
    con = resolved
    truth_rows = sum(1 for _ in (generated.truth / "identities.csv").open()) - 1
    assert con.execute("select count(*) from identity.records").fetchall()[0][0] == truth_rows
    assert con.execute("select count(*), count(distinct unique_id) from identity.clusters").fetchall()[0] == (
        truth_rows,
        truth_rows,
    )
    # Every probabilistic merge is explained by a scored pair with its comparison levels.
    unexplained = con.execute(
        """
        select count(*) from identity.edges e
        where e.method = 'probabilistic' and not exists (
            select 1 from identity.scored_edges s
            where s.unique_id_l = e.unique_id_l and s.unique_id_r = e.unique_id_r)
        """
    ).fetchall()[0][0]
    assert unexplained == 0
    # Splink's and our intermediate tables are dropped: the warehouse keeps raw and identity only.
    leftovers = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where not temporary and schema_name not in ('raw', 'identity')"
    ).fetchall()
    assert leftovers == []
    columns = {r[0] for r in con.execute("describe identity.scored_edges").fetchall()}
    assert {
        "match_weight",
        "match_probability",
        "mw_email",
        "mw_tf_adj_email",
        "mw_first_name_last_name",
    } <= columns
    # Not the compared values nor the blocking keys (in identity.records and identity.blocking_keys).
    assert not {"email_l", "block_name_l", "gamma_email"} & columns


def test_model_beats_the_deterministic_baseline(
    resolved: duckdb.DuckDBPyConnection, generated: Generated
) -> None:
    con = resolved
    load_truth(con, generated.truth / "identities.csv")
    model = score(con, "identity.clusters")
    baseline = score(con, baseline_clusters(con))
    # The relative bar: recall at least 0.05 above the baseline, precision no lower.
    assert model.pairwise_recall >= baseline.pairwise_recall + 0.05
    assert model.pairwise_precision >= baseline.pairwise_precision


def _named_people(con: duckdb.DuckDBPyConnection, people: int, seed: int = 7) -> None:
    """``identity.records`` of ``people`` persons with two records each (a typo in the second's
    first name), names drawn from a skewed list as real surnames are (a few very common)."""
    con.execute("create schema if not exists identity")
    con.execute(f"select setseed({seed / 100})")
    con.execute(
        f"""
        create or replace table identity.records as
        with people as (
            select i,
                   'first' || (floor(pow(random(), 3) * 300))::int as first_name,
                   'last' || (floor(pow(random(), 4) * 2000))::int as last_name,
                   1940 + (random() * 60)::int as y, 1 + (random() * 11)::int as m,
                   1 + (random() * 27)::int as d,
                   lpad((1000 + floor(pow(random(), 2) * 900) * 100)::int::varchar, 5, '0') as postcode
            from range({people}) t(i)
        )
        select 'crm_contacts:' || i || '-' || copy as unique_id, 'crm_contacts' as source_system,
               case when copy = 0 then first_name else first_name || 'x' end as first_name, last_name,
               null::varchar as email, null::varchar as phone, y as birth_year, m as birth_month,
               d as birth_day, postcode, null::varchar as city, null::varchar as street,
               null::varchar as house_number
        from people, range(2) c(copy)
        """
    )


def _block_pairs(con: duckdb.DuckDBPyConnection) -> int:
    """The pairs the capped keys of ``splink_keyed`` put in one block, summed over the keys."""
    keys = [
        k for k in model.BLOCKING_KEYS if k in {c[0] for c in con.execute("describe splink_keyed").fetchall()}
    ]
    return sum(
        con.execute(
            f"select coalesce(sum(n * (n - 1) / 2), 0) from "
            f"(select count(*) n from splink_keyed where {k} is not null group by {k})"
        ).fetchall()[0][0]
        for k in keys
    )


def test_blocking_stays_within_its_pair_budget_as_records_grow_tenfold() -> None:
    """Blocks of common names are refined so that the pairs compared stay within
    ``pairs_per_record`` per record; on data small enough, nothing needs refining."""
    from orchestration.identity.splink_inputs import build_inputs

    seen = {}
    for people in (1_000, 10_000):
        con = duckdb.connect()
        install_macros(con)
        _named_people(con, people)
        _, blocking = build_inputs(con, 8)
        pairs = _block_pairs(con)
        assert blocking.records == 2 * people and blocking.budget == 8 * 2 * people
        assert pairs <= sum(blocking.pairs.values()) <= blocking.budget
        seen[people] = (blocking.block_caps, pairs)
        # Generous: the largest cap for every key, every block whole.
        _, free = build_inputs(con, 10_000)
        assert set(free.block_caps.values()) == {max(BLOCK_CAPS)}
        assert _block_pairs(con) > pairs
    # Ten times the records: ten times the pairs at most (linear), where whole blocks would grow
    # with the square of the records sharing a common name.
    assert seen[10_000][1] <= 10 * 8 * 2 * 1_000


def test_a_block_too_large_for_its_cap_is_refined_not_dropped() -> None:
    """Ten Marie Martins: too many for a cap of 5, so they are blocked with their postcode (4 in
    75001), then their birth date; a rare name keeps the plain key."""
    from orchestration.identity.splink_inputs import BLOCK_CAPS, _pairs_by_cap

    con = duckdb.connect()
    # Per record: records sharing the name, ... the name and postcode, ... the name and birth
    # date; each tier with the partners that also share an e-mail, phone or birth date.
    con.execute(
        """
        create temp table splink_tiered as
        select 10 as n_block_name_0, 3 as e_block_name_0, 4 as n_block_name_1, 3 as e_block_name_1,
               1 as n_block_name_2, 0 as e_block_name_2 from range(4)
        union all
        select 10, 3, 6, 1, 2, 1 from range(6)
        """
    )
    table = _pairs_by_cap(con, "block_name", 3)
    # At 5: the 4 of 75001 together (6 pairs), the 6 others in pairs (3); from 10: one block of 45.
    assert table[5][0] == 9 and table[10][0] == 45 and table[max(BLOCK_CAPS)][0] == 45
    # Evidence pairs: half the partners, 4 x 3 / 2 + 6 x 1 / 2 at 5; 10 x 3 / 2 from 10.
    assert table[5][1] == 9 and table[10][1] == 15


def test_the_budget_goes_to_the_key_whose_pairs_are_most_often_one_person() -> None:
    """Two keys whose blocks cost the same: raising the one whose extra pairs mostly share an
    e-mail, phone or birth date (a full name) beats raising the one whose pairs do not (a surname
    and initial); with budget for both, both are raised; without, neither."""
    from orchestration.identity.splink_inputs import BLOCK_CAPS, choose_block_caps

    def key(pairs_evidence_small: tuple[int, int], pairs_evidence_large: tuple[int, int]) -> dict:
        return {cap: pairs_evidence_small if cap < 10 else pairs_evidence_large for cap in BLOCK_CAPS}

    table = {"block_name": key((10, 9), (40, 35)), "block_surname_initial": key((10, 2), (40, 6))}
    top = max(BLOCK_CAPS)
    caps, pairs, evidence = choose_block_caps(table, budget=50)
    assert caps == {"block_name": top, "block_surname_initial": 5}
    assert pairs == {"block_name": 40, "block_surname_initial": 10} and evidence["block_name"] == 35
    assert choose_block_caps(table, budget=80)[0] == {"block_name": top, "block_surname_initial": top}
    assert choose_block_caps(table, budget=1)[0] == {"block_name": 5, "block_surname_initial": 5}


def test_retraining_is_on_request_and_the_saved_model_is_then_reused(
    landed: Settings, con, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.identity import ResolutionConfig

    saved = tmp_path / "identity" / "model.json"  # the repository's model stays untouched
    report = tmp_path / "serving" / "identity"
    for spec in ALL_TABLES:
        load_table(con, spec, landed.landing_dir, landed.quarantine_dir, log=lambda _: None)
    config = ResolutionConfig(retrain=True, trained_model=saved, report_dir=report)
    first = resolve(con, config, log=lambda _: None)
    assert first.trained and saved.exists()
    # The report a data engineer judges the model by: Splink's charts, offline, and the parameters.
    for page in ("index.html", "match_weights.html", "m_u_parameters.html"):
        text = (report / page).read_text(encoding="utf-8")
        assert "cdn.jsdelivr" not in text and "<html" in text.lower()
    assert "vega" in (report / "match_weights.html").read_text(encoding="utf-8")
    assert "email" in (report / "parameters.csv").read_text(encoding="utf-8")
    trained = json.loads(saved.read_text(encoding="utf-8"))
    levels = {c["output_column_name"]: c["comparison_levels"] for c in trained["comparisons"]}
    # EM estimated an m probability for the exact e-mail level, u came from random sampling.
    exact_email = next(lv for lv in levels["email"] if lv.get("label_for_charts", "").startswith("Exact"))
    assert 0 < exact_email["m_probability"] <= 1 and 0 < exact_email["u_probability"] < 0.01
    before = saved.read_bytes()
    second = resolve(con, ResolutionConfig(trained_model=saved), log=lambda _: None)
    assert not second.trained and saved.read_bytes() == before
    assert str(saved) in second.model_source
