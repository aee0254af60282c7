"""``cdp formats``, ``cdp settings`` and ``cdp screenshot``: the reference pages generated from the code
(export formats, environment variables and data-folder paths) and the README's picture of the report."""

from __future__ import annotations

from pathlib import Path
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


def screenshot(
    out: Annotated[
        Path, typer.Option(metavar="FILE", help="Where to write the PNG (from the current folder).")
    ] = Path("docs/kpi-report.png"),
    width: Annotated[int, typer.Option(help="Viewport width in pixels.")] = 1400,
) -> None:
    """Screenshot the KPI report of the data folder (built by `cdp run`) in headless Chromium, offline.

    What `make screenshot` runs to regenerate the README's picture: run the pipeline on the
    10,000-customer sample first (`make run CUSTOMERS=10000`). Every request other than the report's
    own files is refused, so the picture shows what a reader sees without a network.
    """
    import shutil

    from playwright.sync_api import sync_playwright

    report = get_settings().report_dir / "index.html"
    if not report.exists():
        typer.echo(f"No KPI report at {report}: run `cdp run` (or `make run`) first.", err=True)
        raise typer.Exit(2)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        typer.echo("Chromium not found (Debian package `chromium`).", err=True)
        raise typer.Exit(2)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": width, "height": 1000})
        page.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
        )
        page.goto(report.as_uri(), wait_until="load")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    typer.echo(f"Wrote {out}")
