"""Every command's ``--help`` reads right: nothing swallowed by markup, defaults shown, no tracker
numbers; and the README and docs name no tracker issue either (they mean nothing to a reader)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.settings import REPO_ROOT

TRACKER = re.compile(r"\bissues? \d+|#\d+\b", re.IGNORECASE)


def commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command and sub-command of ``group``, with the words that invoke it."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


ALL = [((), typer.main.get_command(app)), *commands(typer.main.get_command(app))]


def render(words: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], prog_name="cdp", env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("words", "command"), ALL, ids=[" ".join(w) or "cdp" for w, _ in ALL])
def test_help_renders_every_default_and_bracket(words: tuple[str, ...], command: click.Command) -> None:
    text = render(words)
    flat = " ".join(text.split())
    assert "%%" not in text
    assert not re.search(r"\[\s*\]|\(\s*\)", text), "text inside brackets was swallowed"
    assert not re.search(r"\{[a-z_]+\}", text), "an argument shown as {name}, not NAME"
    assert not re.search(r"\w \.(\s|$)", text), "a default lost before the full stop ('into .')"
    assert not TRACKER.search(text)
    for param in command.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        written = re.search(r"\[default: [^\]]+\]", param.help or "")
        if written:  # a default the help writes itself, e.g. "[default: $CDP_DATA_DIR/landing]"
            assert " ".join(written.group(0).split()) in flat, f"{param.name}: {written.group(0)} lost"
        elif param.default not in (None, (), []) and param.show_default is not False:
            if param.is_flag and param.secondary_opts:  # --force / --no-force: the name in force
                shown = (param.opts if param.default else param.secondary_opts)[0].lstrip("-")
            else:
                shown = str(param.default)
            assert f"[default: {shown}]" in flat.replace("- ", "-"), f"{param.name}: default not shown"


def test_the_install_hint_keeps_its_extra() -> None:
    assert "pip install -e '.[bench]'" in " ".join(render(("bench-identity",)).split())


def test_privacy_help_says_gdpr_in_english() -> None:
    text = render(("privacy",))
    assert "GDPR" in text and "RGPD" not in text


def test_readme_docs_and_cli_name_no_tracker_issue() -> None:
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    found = [
        f"{page.relative_to(REPO_ROOT)}:{n}: {line.strip()}"
        for page in pages
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if TRACKER.search(line)
    ]
    found += [f"cdp {' '.join(w)} --help" for w, _ in ALL if TRACKER.search(render(w))]
    assert found == []


def test_the_pattern_catches_what_it_is_for(tmp_path: Path) -> None:
    assert TRACKER.search("fixed (issue 19)") and TRACKER.search("[issue 16]") and TRACKER.search("see #12")
    assert not TRACKER.search("100 issues were found in 12 files")
