"""Identity resolution on data that does not look like our generator (issue 16).

A retailer's exports may carry no e-mail, no phone, no address or no birth date. The same tiny
generated population is loaded, then fields are blanked in the raw layer (or in the landing files,
for the end-to-end run), and the real resolver runs on what is left: it must finish, say which
fields and rules it used, never estimate a prior of 0, and still link more true pairs than the exact
links alone.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.identity import ResolutionConfig, resolve, train_model
from orchestration.identity.config import IdentityConfigError, load_identity_settings
from orchestration.identity.evaluate import load_truth, score
from orchestration.identity.names import first_name_facts, first_names_alike
from orchestration.identity.stable_ids import assign_stable_ids
from orchestration.identity.standardise import build_first_name_variants, install_macros
from orchestration.ingest.loader import load_table
from orchestration.settings import Settings
from orchestration.warehouse.raw import ensure_raw_schema
from tests.conftest import Generated, query, run_job

# raw table -> columns to blank, per kind of field
FIELDS = {
    "contact": {
        "pos_tickets": ["email_client", "tel_client"],
        "ecommerce_customers": ["email", "phone"],
        "ecommerce_orders": ["email", "billing_phone"],
        "crm_contacts": ["email", "phone"],
        "crm_tickets": ["requester_email", "requester_phone"],
        "survey_responses": ["respondent_email"],
    },
    "birth_date": {"ecommerce_customers": ["birth_date"], "crm_contacts": ["date_of_birth"]},
    "address": {
        "ecommerce_customers": ["address1", "zip", "city"],
        "ecommerce_orders": ["billing_address1", "billing_zip", "billing_city"],
        "crm_contacts": ["address", "zip", "city"],
    },
    "names": {
        "pos_tickets": ["prenom_client", "nom_client"],
        "ecommerce_customers": ["first_name", "last_name"],
        "ecommerce_orders": ["billing_first_name", "billing_last_name"],
        "crm_contacts": ["firstname", "lastname"],
        "crm_tickets": ["requester_name"],
    },
}
PROFILES = {
    "names-and-addresses-only": ("contact", "birth_date"),
    "names-and-birth-dates-only": ("contact", "address"),
    "emails-only": ("names", "birth_date", "address"),
}


@pytest.fixture(scope="module")
def raw_db(tmp_path_factory: pytest.TempPathFactory, generated: Generated) -> Path:
    root = tmp_path_factory.mktemp("profiles")
    path = root / "loaded.duckdb"
    con = duckdb.connect(str(path))
    for spec in ALL_TABLES:
        load_table(con, spec, generated.landing, root / "quarantine", log=lambda _: None)
    con.close()
    return path


def _blank(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...]) -> None:
    specs = {spec.table: spec for spec in ALL_TABLES}
    for kind in kinds:
        for table, columns in FIELDS[kind].items():
            # A birth date's text as delivered goes with it (the raw layer keeps both).
            delivered = [c.delivered_column for c in specs[table].delivered_columns if c.name in columns]
            con.execute(f"update raw.{table} set " + ", ".join(f"{c} = null" for c in [*columns, *delivered]))


def _exact_clusters(con: duckdb.DuckDBPyConnection) -> str:
    """The clusters of the deterministic links alone (cards, accounts, references)."""
    from orchestration.identity.graph import connected_components

    con.execute(
        "create or replace table _exact_edges as select unique_id_l, unique_id_r, 1.0 as match_probability "
        "from identity.deterministic_edges"
    )
    return connected_components(con, "identity.records", "_exact_edges")


def _resolved(raw_db: Path, tmp_path: Path, kinds: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    path = tmp_path / "cdp.duckdb"
    shutil.copy(raw_db, path)
    con = duckdb.connect(str(path))
    _blank(con, kinds)
    return con


@pytest.mark.parametrize("profile", PROFILES)
def test_any_mix_of_identifiers_runs_to_the_end(
    raw_db: Path, tmp_path: Path, generated: Generated, profile: str
) -> None:
    kinds = PROFILES[profile]
    con = _resolved(raw_db, tmp_path, kinds)
    logged: list[str] = []
    result = resolve(con, ResolutionConfig(), log=logged.append)
    assign_stable_ids(con, "profile")
    unused = {
        "contact": {"email", "phone"},
        "birth_date": {"birth_date"},
        "address": {"postcode", "city", "street"},
        "names": {"first_name", "last_name"},
    }
    used = set(result.plan["fields_used"])
    for kind in kinds:
        assert not used & unused[kind], (kind, used)
    # The run log and the metadata say what was used, and how the prior was obtained.
    assert any(line.startswith("fields populated") for line in logged)
    if result.plan["comparisons"] and "first_name" in used:
        assert result.prior and "refined" in result.prior
        assert result.comparisons_per_rule and sum(result.comparisons_per_rule.values()) > 0
    mapped = con.execute(
        "select count(*), count(distinct unique_id) from identity.customer_source_records"
    ).fetchall()[0]
    assert mapped == (result.records, result.records)
    # Splink adds true links beyond the exact ones (cards, accounts, order references).
    load_truth(con, generated.truth / "identities.csv")
    model = score(con, "identity.clusters")
    exact_only = score(con, _exact_clusters(con))
    assert model.pairwise_precision >= 0.9
    if profile != "emails-only":
        assert model.pairwise_recall > exact_only.pairwise_recall
    con.close()


def test_no_rule_finds_pairs_training_falls_back_to_the_shipped_model(tmp_path: Path) -> None:
    """Every record a different person, nothing shared: EM has no pair in any training block."""
    con = duckdb.connect(str(tmp_path / "cdp.duckdb"))
    for spec in ALL_TABLES:
        ensure_raw_schema(con, spec)
    con.execute(
        """
        insert into raw.crm_contacts (contact_id, firstname, lastname, createdate)
        select 'C' || i, 'prenom' || chr((97 + i % 26)::int) || i,
               'nom' || chr((97 + (i * 7) % 26)::int) || i, timestamp '2026-01-01'
        from range(40) t(i)
        """
    )
    config = ResolutionConfig(
        trained_model=tmp_path / "identity" / "model.json", report_dir=tmp_path / "report"
    )
    logged: list[str] = []
    trained, message = train_model(con, config, log=logged.append)
    assert not trained and "EM could not run" in message
    assert not config.trained_model.exists()
    assert any("training failed, using the shipped model instead" in line for line in logged)
    result = resolve(
        con, ResolutionConfig(retrain=True, trained_model=config.trained_model), log=logged.append
    )
    assert not result.trained and "shipped default (training failed" in result.model_source
    con.close()


def test_python_and_sql_first_name_rules_agree(generated: Generated) -> None:
    """merge.py checks clusters with names.py; the pair guard uses the SQL macros: same answers."""
    con = duckdb.connect()
    install_macros(con)
    build_first_name_variants(con, load_identity_settings().first_name_variants)
    names = [
        r[0]
        for r in con.execute(
            f"""
            select distinct cdp_std_name(firstname) from read_csv('{generated.landing}/crm/contacts_*.csv',
                all_varchar = true) where firstname is not null
            """
        ).fetchall()
        if r[0]
    ]
    names += ["j", "jp", "jeanpierre", "tom", "thomas", "rich", "richard", "dick", "rihc", "anna", "hannah"]
    con.execute("create table n as select unnest(?::varchar[]) as first_name", [names])
    disagreements = con.execute(
        "select a.first_name, b.first_name, cdp_first_names_alike(a.first_name, b.first_name) "
        "from n a, n b where a.first_name < b.first_name"
    ).fetchall()
    assert len(disagreements) > 1000
    assert [(a, b) for a, b, sql in disagreements if first_names_alike(a, b) != sql] == []
    facts = first_name_facts(con, "select first_name from n", use_phonetic=True)
    pairs = con.execute(
        "select a.first_name, b.first_name, cdp_first_names_compatible(a.first_name, b.first_name) "
        "from n a, n b where a.first_name < b.first_name"
    ).fetchall()
    assert [(a, b) for a, b, sql in pairs if facts.compatible(a, b) != sql] == []
    assert facts.compatible("dick", "richard") and facts.compatible("rihc", "richard")
    assert not facts.compatible("marie", "jean")


def test_identity_configuration_errors_name_the_key(tmp_path: Path) -> None:
    shipped = Path(load_identity_settings().source)
    text = shipped.read_text(encoding="utf-8")
    shutil.copy(shipped.parent / "first_name_variants.csv", tmp_path / "first_name_variants.csv")
    cases = {
        "account_id: allowed": ("account_id: sometimes", "conflicts.account_id"),
        "match_probability: 0.5": ("match_probability: 1.5", "matching.match_probability"),
        "  phonetic: true": ("  phonetic: true\n  soundex: true", "first_names.soundex"),
        "looser_match_probability: 0.2": (
            "looser_match_probability: 0.95",
            "kpi_range.looser_match_probability",
        ),
    }
    for original, (broken, key) in cases.items():
        path = tmp_path / "identity.yml"
        path.write_text(text.replace(original, broken), encoding="utf-8")
        with pytest.raises(IdentityConfigError, match=key.replace(".", r"\.")):
            load_identity_settings(path)
    # A file written before the KPI range had a section for it reads with the range's defaults.
    start, end = text.index("kpi_range:"), text.index("# What two clusters")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert (load_identity_settings(path).range_looser, load_identity_settings(path).range_stricter) == (
        0.2,
        0.9,
    )


def _blank_landing(landing: Path, kinds: tuple[str, ...]) -> None:
    """Blank columns in the landing files themselves, keeping each export's format."""
    for spec in ALL_TABLES:
        columns = {c for kind in kinds for c in FIELDS[kind].get(spec.table, [])}
        if not columns or spec.format.kind != "csv":
            continue
        encoding = "cp1252" if spec.format.encoding == "cp1252" else "utf-8-sig"
        for path in sorted((landing / spec.source).glob(spec.pattern)):
            with path.open(encoding=encoding, newline="") as f:
                rows = list(csv.reader(f, delimiter=spec.format.delimiter))
            header = rows[0]
            blank = [i for i, name in enumerate(header) if name.strip().lower() in columns]
            for row in rows[1:]:
                for i in blank:
                    if i < len(row):
                        row[i] = ""
            with path.open("w", encoding=encoding, newline="") as f:
                csv.writer(f, delimiter=spec.format.delimiter, lineterminator="\r\n").writerows(rows)


def test_cdp_run_succeeds_on_names_and_addresses_only(landed: Settings, generated: Generated) -> None:
    """The whole pipeline (raw, identity, dbt, checks, serving) with no e-mail, phone or birth date."""
    _blank_landing(landed.landing_dir, ("contact", "birth_date"))
    result = run_job("full_pipeline", landed)
    failed = [
        c.check_name
        for c in result.get_asset_check_evaluations()
        if not c.passed and c.severity.value == "ERROR"
    ]
    assert result.success, failed
    assert failed == []
    contact = "select source_system, count(*) from identity.records where coalesce(email, phone) is not null"
    assert query(landed, contact + " group by all") == []
    meta = {
        m.asset_key.path[-1]: m.metadata
        for m in result.asset_materializations_for_node("identity_resolution")
    }["scored_edges"]
    assert "email" not in meta["active_model"].data["fields_used"]
    assert query(landed, "select count(*) > 0 from marts.dim_customers") == [(True,)]
