"""Every setting in one place: only ``orchestration/settings.py`` reads the environment, each
variable's default is the one the code uses, and ``docs/configuration.md`` is generated from it."""

from __future__ import annotations

import ast
import os
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.activation import audiences
from orchestration.cli import app
from orchestration.exports import effective_tables
from orchestration.exports.mapping import mapping_path
from orchestration.identity import config as identity_config
from orchestration.lib.settings_docs import DOC_PATH, render, variables
from orchestration.settings import (
    REPO_ROOT,
    QualitySettings,
    Settings,
    SettingsError,
    ShareBand,
    data_paths,
    get_quality_settings,
    get_settings,
)

PACKAGE = REPO_ROOT / "orchestration"
NAMES = [f.metadata["variable"] for f in variables()]


def environment_reads(source: str) -> list[int]:
    """Lines of ``source`` that read the process environment. Writes are not reads: setting or
    deleting a variable, ``os.environ.update``, a ``pop`` whose value is dropped, a copy of the
    environment for a child process (``{**os.environ, ...}``), ``mock.patch.dict(os.environ, ...)``."""
    tree = ast.parse(source)
    parent = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            if {a.name for a in node.names} & {"environ", "environb", "getenv", "getenvb"}:
                lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and ast.unparse(node.value) == "os":
            environ = node.attr in ("environ", "environb")
            if node.attr in ("getenv", "getenvb") or (environ and not _written(node, parent)):
                lines.append(node.lineno)
    return lines


def _written(environ: ast.AST, parent: dict[ast.AST, ast.AST]) -> bool:
    up = parent[environ]
    if isinstance(up, ast.Subscript):
        return isinstance(up.ctx, ast.Store | ast.Del)
    if isinstance(up, ast.Attribute) and isinstance(parent[up], ast.Call):
        return up.attr == "update" or (up.attr == "pop" and isinstance(parent[parent[up]], ast.Expr))
    if isinstance(up, ast.Dict):  # {**os.environ, ...}: the key of an unpacked mapping is None
        return any(key is None and value is environ for key, value in zip(up.keys, up.values, strict=True))
    if isinstance(up, ast.Call) and up.args and up.args[0] is environ:
        return ast.unparse(up.func) in ("mock.patch.dict", "patch.dict", "unittest.mock.patch.dict")
    return False


@pytest.mark.parametrize(
    ("code", "reads"),
    [
        ("os.environ['X'] = '1'", False),
        ("del os.environ['X']", False),
        ("os.environ.pop('X', None)", False),
        ("os.environ.update({'X': '1'})", False),
        ("env = {**os.environ, 'X': '1'}", False),
        ("with mock.patch.dict(os.environ, {'X': '1'}): pass", False),
        ("x = os.environ['X']", True),
        ("x = os.environ.get('X')", True),
        ("x = os.getenv('X')", True),
        ("x = os.environ.pop('X')", True),
        ("x = 'X' in os.environ", True),
        ("x = dict(os.environ)", True),
        ("x = os.environ.copy()", True),
        ("subprocess.run(['dbt'], env=os.environ)", True),
        ("from os import environ", True),
        ("from os import getenv", True),
    ],
)
def test_reads_of_the_environment_are_told_from_writes(code: str, reads: bool) -> None:
    assert bool(environment_reads(code)) is reads


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "settings.py"
        for line in environment_reads(path.read_text(encoding="utf-8"))
    ]
    assert readers == [], "read environment variables in orchestration/settings.py, on Settings"
    assert environment_reads((PACKAGE / "settings.py").read_text(encoding="utf-8"))


def test_the_configuration_page_is_generated_from_the_settings() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "run `cdp settings --write`"
    page = render()
    for name in NAMES:
        assert f"| `{name}` |" in page
    for name, _ in data_paths():
        assert f"| `{name}` |" in page


@pytest.fixture
def empty_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """None of the variables set (conftest.py sets some for the whole session)."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_unset_or_empty_variables_take_the_defaults_the_code_uses(
    empty_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for value in (None, ""):
        if value is not None:
            for name in NAMES:
                empty_environment.setenv(name, value)
        assert get_settings() == Settings()
        assert get_quality_settings() == QualitySettings()
    settings, quality = get_settings(), get_quality_settings()
    assert settings.data_dir == (REPO_ROOT / "data").resolve()
    assert settings.duckdb_threads == (os.cpu_count() or 2)
    assert settings.duckdb_memory_limit == "4GB"
    assert settings.landing_settle_seconds == 5.0
    assert settings.clear_pii == frozenset()
    assert settings.identity_impact_limit == 0.01
    assert quality.freshness_hours == {"pos": 48, "ecommerce": 48, "crm": 72, "survey": 168}
    assert quality.as_of is None and quality.max_cluster_records is None
    assert quality.probabilistic_share == ShareBand(0.0, 0.30, explicit=False)
    assert quality.singleton_share == ShareBand(0.0, 0.50, explicit=False)
    assert quality.identity_max_jump == 0.10
    # The files the code reads when no variable names another.
    assert mapping_path(tmp_path) == tmp_path / "sources.yml"
    assert identity_config.config_path() == identity_config.SHIPPED_CONFIG
    assert audiences.config_path() == audiences.SHIPPED_CONFIG


# A value of every variable, and what the code gets from it.
EXAMPLES = {
    "CDP_DATA_DIR": ("/srv/cdp", "data_dir", Path("/srv/cdp")),
    "CDP_DUCKDB_THREADS": ("3", "duckdb_threads", 3),
    "CDP_DUCKDB_MEMORY_LIMIT": ("1GB", "duckdb_memory_limit", "1GB"),
    "CDP_LANDING_SETTLE_SECONDS": ("0", "landing_settle_seconds", 0.0),
    "CDP_SOURCES_FILE": ("/srv/mapping.yml", "sources_file", Path("/srv/mapping.yml")),
    "CDP_IDENTITY_CONFIG": ("/srv/identity.yml", "identity_config", Path("/srv/identity.yml")),
    "CDP_AUDIENCES_CONFIG": ("/srv/audiences.yml", "audiences_config", Path("/srv/audiences.yml")),
    "CDP_SERVING_PII": ("email, phone", "clear_pii", frozenset({"email", "phone"})),
    "CDP_EARLIEST_DATE_POS": ("2000-01-01", "earliest_date_pos", date(2000, 1, 1)),
    "CDP_EARLIEST_DATE_ECOMMERCE": ("2010-06-01", "earliest_date_ecommerce", date(2010, 6, 1)),
    "CDP_EARLIEST_DATE_CRM": ("1995-01-01", "earliest_date_crm", date(1995, 1, 1)),
    "CDP_EARLIEST_DATE_SURVEY": ("2020-01-01", "earliest_date_survey", date(2020, 1, 1)),
    "CDP_IDENTITY_IMPACT_LIMIT": ("0.05", "identity_impact_limit", 0.05),
    "CDP_REPORT_LANGUAGE": ("FR", "report_language", "fr"),
    "CDP_FRESHNESS_HOURS_POS": ("24", "freshness_hours_pos", 24),
    "CDP_FRESHNESS_HOURS_ECOMMERCE": ("12", "freshness_hours_ecommerce", 12),
    "CDP_FRESHNESS_HOURS_CRM": ("96", "freshness_hours_crm", 96),
    "CDP_FRESHNESS_HOURS_SURVEY": ("336", "freshness_hours_survey", 336),
    "CDP_QUALITY_AS_OF": ("2026-11-01T00:00:00Z", "as_of", "2026-11-01T00:00:00Z"),
    "CDP_IDENTITY_MAX_CLUSTER": ("200", "max_cluster_records", 200),
    "CDP_QUALITY_PROBABILISTIC_SHARE": ("0.1,0.4", "probabilistic_share", ShareBand(0.1, 0.4, explicit=True)),
    "CDP_QUALITY_SINGLETON_SHARE": ("0.0,0.5", "singleton_share", ShareBand(0.0, 0.5, explicit=True)),
    "CDP_QUALITY_IDENTITY_MAX_JUMP": ("0.2", "identity_max_jump", 0.2),
}


def test_every_variable_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(NAMES)
    assert {f.name for f in variables()} == {field for _, field, _ in EXAMPLES.values()}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_set_variable_takes_effect(empty_environment: pytest.MonkeyPatch, name: str) -> None:
    text, field, expected = EXAMPLES[name]
    empty_environment.setenv(name, text)
    owner = get_settings() if field in {f.name for f in fields(Settings)} else get_quality_settings()
    assert getattr(owner, field) == expected


def test_the_landing_settle_time_and_the_mapping_file_reach_the_code(
    empty_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty_environment.setenv("CDP_LANDING_SETTLE_SECONDS", "0.5")
    assert get_settings().landing_settle_seconds == 0.5
    mine = tmp_path / "elsewhere" / "mapping.yml"
    mine.parent.mkdir()
    mine.write_text('ecommerce_customers:\n  pattern: "clients_*.csv"\n', encoding="utf-8")
    data = tmp_path / "data"
    patterns = {t.table: t.pattern for t in effective_tables(data)}
    assert patterns["ecommerce_customers"] != "clients_*.csv"
    empty_environment.setenv("CDP_SOURCES_FILE", str(mine))
    assert mapping_path(data) == mine
    assert {t.table: t.pattern for t in effective_tables(data)}["ecommerce_customers"] == "clients_*.csv"
    assert get_settings().mapping_path == mine


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CDP_DUCKDB_THREADS", "many"),
        ("CDP_DUCKDB_THREADS", "0"),
        ("CDP_LANDING_SETTLE_SECONDS", "soon"),
        ("CDP_FRESHNESS_HOURS_CRM", "3 days"),
        ("CDP_IDENTITY_MAX_CLUSTER", "-1"),
        ("CDP_QUALITY_PROBABILISTIC_SHARE", "0.3"),
        ("CDP_QUALITY_SINGLETON_SHARE", "0.0,1.5"),
        ("CDP_QUALITY_IDENTITY_MAX_JUMP", "10"),
        ("CDP_IDENTITY_IMPACT_LIMIT", "5%"),
        ("CDP_REPORT_LANGUAGE", "de"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_variable(
    empty_environment: pytest.MonkeyPatch, name: str, value: str
) -> None:
    empty_environment.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: '{value}' is not "):
        get_settings()
        get_quality_settings()


def test_every_data_folder_path_is_under_the_data_folder_and_named_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    paths = [getattr(settings, name) for name, _ in data_paths()]
    assert all(p.is_relative_to(tmp_path) and p != tmp_path for p in paths)
    assert len(set(paths)) == len(paths)
    other = settings.in_folder(tmp_path / "other")
    assert other.privacy_dir == tmp_path / "other" / "privacy"


def test_cdp_settings_prints_the_values_in_force_and_names_a_bad_one(
    empty_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path.resolve()
    empty_environment.setenv("CDP_DATA_DIR", str(data))
    empty_environment.setenv("CDP_SERVING_PII", "email")
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"CDP_DATA_DIR                      {data}" in lines
    assert "CDP_SERVING_PII                   email" in lines
    assert "CDP_DUCKDB_MEMORY_LIMIT           4GB  (default)" in lines
    assert f"  privacy_dir                     {data / 'privacy'}" in lines
    empty_environment.setenv("CDP_DUCKDB_MEMORY_LIMIT", "2GB")
    empty_environment.setenv("CDP_QUALITY_IDENTITY_MAX_JUMP", "lots")
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 2
    assert "CDP_QUALITY_IDENTITY_MAX_JUMP: 'lots' is not a share between 0 and 1" in result.output
