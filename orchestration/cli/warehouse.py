"""Opening the warehouse for a command that reads it (or writes a little) outside a run."""

from __future__ import annotations

import duckdb
import typer

from orchestration.settings import Settings


def open_warehouse(settings: Settings, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """The warehouse, or the command's exit (2) saying why not: there is none yet, or a run holds it
    (DuckDB has one writer or several readers, never both)."""
    if not settings.warehouse_path.exists():
        typer.echo(f"No warehouse at {settings.warehouse_path}: run `cdp run` first.", err=True)
        raise typer.Exit(2)
    try:
        return duckdb.connect(str(settings.warehouse_path), read_only=read_only)
    except duckdb.IOException as error:
        typer.echo(f"The warehouse is in use ({error}); try again when the run has finished.", err=True)
        raise typer.Exit(2) from error
