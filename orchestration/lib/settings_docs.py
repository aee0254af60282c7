"""The configuration reference (``docs/configuration.md``) and ``cdp settings``, rendered from
``orchestration/settings.py`` itself: every environment variable and every path of the data folder."""

from __future__ import annotations

import re
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

from orchestration.lib.dbt_project import DBT_PROJECT_DIR
from orchestration.settings import (
    DAGSTER_HOME_ENV,
    DATA_DIR_ENV,
    REPO_ROOT,
    RUN_ID_ENV,
    QualitySettings,
    Settings,
    ShareBand,
    data_paths,
    file_path,
)

DOC_PATH = REPO_ROOT / "docs" / "configuration.md"
DBT_PROFILE = DBT_PROJECT_DIR / "profiles.yml"

INTRO = """\
# Configuration

Generated from `orchestration/settings.py` by `cdp settings --write`; do not edit by hand (a test
fails when this file and the code disagree). `cdp settings` prints the values in force.

Environment variables set where the pipeline keeps its state and how it runs. What you change to
fit your data lives in files you can read and diff: the identity settings in `identity.yml`
([identity.md](identity.md#identityyml)), the audiences in `audiences.yml`
([privacy.md](privacy.md#audiences-for-activation)), how your exports differ from ours in
`sources.yml` ([export-formats.md](export-formats.md)), the KPI vars and seeds of the dbt project
([kpis.md](kpis.md#changing-the-knobs)).
"""

# Variables the pipeline writes for the processes it starts; they are not settings.
WRITTEN = {
    RUN_ID_ENV: "the id of the `cdp run` that started the process (dbt, Dagster's log tailers): the "
    "next run finds and stops them if this one was killed",
    DAGSTER_HOME_ENV: "Dagster's own, pointed at the data folder's `dagster/` by `cdp run` and `cdp dev`",
}


def variables() -> list[Field]:
    """Every field read from an environment variable, as the documentation lists them."""
    return [*fields(Settings), *fields(QualitySettings)]


def _value(value: Any) -> str:
    if isinstance(value, ShareBand):
        return f"{value.low},{value.high}"
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def default(f: Field) -> Any:
    """The value a variable takes when it is unset."""
    return f.default_factory() if f.default is MISSING else f.default


def default_text(f: Field) -> str:
    """The default of a variable, as the documentation says it."""
    return f.metadata["shown"] or f"`{_value(f.default)}`"


def _relative(name: str, prop: property) -> str:
    root = Path("/data")
    path = getattr(Settings(data_dir=root), name).relative_to(root).as_posix()
    return path if isinstance(prop, file_path) else f"{path}/"


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def dbt_profile_variables() -> list[tuple[str, str]]:
    """(variable, default) of every ``env_var`` the dbt profile reads."""
    text = DBT_PROFILE.read_text(encoding="utf-8")
    return re.findall(r"env_var\('(\w+)',\s*'([^']*)'\)", text)


def render() -> str:
    """The page ``docs/configuration.md``."""
    paths = ["| path | `Settings.` | content |", "| --- | --- | --- |"]
    paths += [
        f"| `{_relative(name, prop)}` | `{name}` | {_one_line(prop.__doc__)} |" for name, prop in data_paths()
    ]
    table = ["| variable | default | what it is for |", "| --- | --- | --- |"]
    table += [
        f"| `{f.metadata['variable']}` | {default_text(f)} | {_one_line(f.metadata['description'])} |"
        for f in variables()
    ]
    written = ["| variable | what it is |", "| --- | --- |"]
    written += [f"| `{name}` | {what} |" for name, what in WRITTEN.items()]
    dbt = ", ".join(f"`{name}` (default `{default}`)" for name, default in dbt_profile_variables())
    return f"""{INTRO}
## The data folder

All local state lives under one folder, `{DATA_DIR_ENV}` (default `data/` in the repository). Each
of its paths is a property of `Settings` (`orchestration/settings.py`), where every module takes it
from:

{chr(10).join(paths)}

## Environment variables

An unset or empty variable takes its default; a value that does not parse stops the command with
an error naming the variable. The thresholds of the data quality checks (`QualitySettings`) are
explained in [quality.md](quality.md).

{chr(10).join(table)}

dbt reads some of them itself, through `env_var` in `dbt_project/profiles.yml`, with its own
defaults: {dbt}. On sample data from `cdp generate`, freshness is judged at the instant its exports
were taken (`truth/as_of.txt`) unless `CDP_QUALITY_AS_OF` is set.

The pipeline sets these for the processes it starts; they are not settings:

{chr(10).join(written)}
"""


def effective(settings: Settings, quality: QualitySettings) -> list[str]:
    """What ``cdp settings`` prints: each variable's value in force, then each data-folder path."""
    lines = []
    for owner in (settings, quality):
        for f in fields(owner):
            value = getattr(owner, f.name)
            shown = default_text(f).replace("`", "") if value is None else _value(value) or "empty"
            origin = "  (default)" if value == default(f) else ""
            lines.append(f"{f.metadata['variable']:<34}{shown}{origin}")
    lines += ["", "Paths of the data folder (Settings):"]
    lines += [f"  {name:<32}{getattr(settings, name)}" for name, _ in data_paths()]
    return lines
