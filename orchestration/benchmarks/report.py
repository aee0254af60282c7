"""A ``cdp bench`` result for people: the terminal table and the row of the results table in
``docs/benchmarks.md`` (between the bench markers)."""

from __future__ import annotations

from pathlib import Path

from orchestration.benchmarks.disk import describe

README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def summary(result: dict) -> str:
    """The result as a terminal table."""
    lines = [f"{'stage':<12}{'seconds':>9}{'rows':>14}{'rows/s':>12}{'peak RSS MB':>13}"]
    for s in result["stages"]:
        lines.append(
            f"{s['name']:<12}{s['seconds']:>9.1f}{s['rows'] or '':>14}{s['rows_per_second'] or '':>12}"
            f"{s['peak_rss_mb'] or '':>13}"
        )
    pipeline, floor, identity = result["pipeline"], result["floor"], result["identity"]
    generation, written = result["generation"], result["bytes"]
    landing = f"{written['landing'] / 1e6:,.1f} MB{' gzip' if written['landing_gzip'] else ''}"
    lines += [
        "",
        f"generation   {generation['seconds']} s, landing {landing}; {describe(generation['io_pressure'])}"
        if generation
        else f"generation   reused, landing {landing}",
        f"floor        {floor['seconds']} s ({floor['rows']:,} records, {floor['megabytes']} MB); "
        f"{describe(floor['io_pressure'])}",
        f"pipeline     {pipeline['seconds']} s = {result['total_to_floor']} x floor, "
        f"peak RSS {pipeline['peak_rss_mb']} MB; {describe(pipeline['io_pressure'])}",
        f"written      warehouse {written['warehouse'] / 1e6:,.1f} MB, serving "
        f"{written['serving'] / 1e6:,.1f} MB after the run",
        f"identity     {identity['records_per_minute']:,} records/min, pairwise F1 {identity['pairwise_f1']} "
        f"(baseline {identity['baseline_f1']})",
    ]
    inc = result.get("increments")
    if inc:
        nothing = inc["nothing_new"]
        agree = inc["incremental_vs_full"]
        lines += [
            f"nothing new  {nothing['seconds']} s = {nothing['to_floor']} x floor; "
            f"{describe(nothing['io_pressure'])}",
            f"daily runs   {len(inc['days'])} days, median {inc['median_day_seconds']} s = "
            f"{inc['median_day_to_full_run']:.1%} of the full run",
            *(
                f"  {d['day']}   {d['seconds']} s, warehouse {d['bytes']['warehouse'] / 1e6:,.1f} MB; "
                f"{describe(d['io_pressure'])}"
                for d in inc["days"]
            ),
            f"full identity {inc['full_identity_run_seconds']} s (cdp run --full-identity); "
            f"{describe(inc['full_identity_run_io_pressure'])}",
            f"identity     incremental vs full re-resolution: pairwise F1 {agree['pairwise_f1']} "
            f"(P {agree['pairwise_precision']}, R {agree['pairwise_recall']}); vs truth: incremental "
            f"{inc['pairwise_f1_vs_truth']['incremental']}, full {inc['pairwise_f1_vs_truth']['full']}",
        ]
    return "\n".join(lines)


def readme_row(result: dict) -> str:
    """One row of the results table in docs/benchmarks.md (columns named in the table's header)."""
    generation, counts = result["generation"], result["counts"]
    stage = {s["name"]: s["seconds"] for s in result["stages"]}
    split = " / ".join(
        f"{v:.0f}"
        for v in (
            stage["ingest"],
            # A fresh warehouse trains its model on the first run: counted with identity.
            stage["standardise"] + stage.get("train", 0.0) + stage["link"] + stage["cluster"],
            stage["dbt"],
            stage["checks"],
            stage["publish"] + stage["docs"] + stage["report"],
            stage["other"],
        )
    )
    cells = [
        result["measured_at"][:10],
        f"{result['customers']:,}",
        f"{counts['identity_records']:,}",
        f"{result['floor']['rows']:,}",
        f"{generation['seconds']:.0f} s" if generation else "reused",
        f"{result['floor']['seconds']:.1f} s",
        f"{result['pipeline']['seconds']:.0f} s",
        f"{result['total_to_floor']}",
        f"{result['pipeline']['peak_rss_mb'] / 1024:.1f} GiB",
        split,
        f"{result['identity']['records_per_minute']:,}",
        f"{result['identity']['pairwise_f1']}",
        result["commit"] or "",
    ]
    return "| " + " | ".join(cells) + " |"


def append_to_readme(result: dict, readme: Path) -> None:
    """Add the result as the last row of the table between the bench markers."""
    text = readme.read_text(encoding="utf-8")
    if README_END not in text:
        raise ValueError(f"{readme} has no {README_END} marker: nowhere to add the row")
    head, tail = text.split(README_END, 1)
    readme.write_text(
        head.rstrip("\n") + "\n" + readme_row(result) + "\n" + README_END + tail, encoding="utf-8"
    )
