"""``cdp formats`` and ``cdp settings``: the reference pages generated from the code (export formats,
environment variables and data-folder paths)."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.settings import get_settings


def formats(write: Annotated[bool, typer.Option(help="Write docs/export-formats.md.")] = False) -> None:
    """Print (or write) the reference of every export format, generated from the specs."""
    from orchestration.exports.docs import DOC_PATH, render

    if write:
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(render(), encoding="utf-8")
        typer.echo(f"Wrote {DOC_PATH}")
    else:
        typer.echo(render())


def settings_command(
    write: Annotated[bool, typer.Option(help="Write docs/configuration.md.")] = False,
) -> None:
    """Print every environment variable's value in force and every path of the data folder (or
    write the reference of them all, generated from orchestration/settings.py)."""
    from orchestration.lib.settings_docs import DOC_PATH, effective, render
    from orchestration.settings import SettingsError, get_quality_settings

    if write:
        DOC_PATH.write_text(render(), encoding="utf-8")
        typer.echo(f"Wrote {DOC_PATH}")
        return
    try:
        lines = effective(get_settings(), get_quality_settings())
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    for line in lines:
        typer.echo(line)
