"""``cdp bench-identity``: identity resolution on labelled data sets, each beside plain Splink.

Our identity resolution must never score below plain Splink on labelled data. For each named set,
in a folder of its own (``<dir>/<set>/data`` is the run's ``CDP_DATA_DIR``; the truth sits beside
it in ``<dir>/<set>/truth`` so that the identity step does not spend time scoring itself):

1. **conversion**: RLdata (``rldata.py``) and FEBRL (``febrl.py``) become CRM contacts and web
   shop accounts in our export formats (``labelled_export.py``); the generator writes its sample;
2. **pipeline** (``run_pipeline``): the raw assets the identity step reads, then the identity step,
   in-process through Dagster as ``cdp run`` does. dbt, the GX checks and serving are left out:
   they do not change customer ids and would add a minute; and the critical check on birth dates
   in the future would stop the run at RLdata's mistyped years (2062 in RLdata500), which the
   identity step's standardisation discards anyway;
3. **evaluation** (``evaluate_warehouse``, what ``cdp identity eval`` runs) and **the plain
   reference** (``identity.reference.plain_splink``) on the same ``identity.records``: one row each.

The split is declared here and in docs/identity.md: the DEVELOPMENT sets are the ones a change may
be tuned on; the TEST sets are what we report, never tuned on.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.benchmarks import febrl, rldata
from orchestration.benchmarks.ceiling import label_trained_ceiling
from orchestration.benchmarks.provenance import code_commit
from orchestration.exports import ALL_TABLES
from orchestration.identity import IDENTITY_RAW_TABLES, evaluate_warehouse
from orchestration.identity.reference import plain_splink
from orchestration.identity.standardise import build_identity_records
from orchestration.ingest.loader import load_table
from orchestration.settings import Settings, data_dir_environment, data_folder, get_settings

GENERATOR_CUSTOMERS = 2_000
DEVELOPMENT_SEED = 4242
TEST_SEED = 1789


@dataclass(frozen=True)
class LabelledSet:
    """A named labelled data set: where its records come from and which split it belongs to."""

    name: str
    split: str  # "dev": may be tuned on; "test": reported, never tuned on
    origin: str  # "rldata", "febrl" or "generator"
    seed: int | None = None  # generator only
    realism: float | None = None  # generator only

    def convert(self, landing: Path, truth_dir: Path) -> dict[str, Any]:
        """Write the set's landing files and ``truth_dir/identities.csv``; the conversion's counts."""
        if self.origin == "rldata":
            return asdict(rldata.convert(self.name, landing, truth_dir))
        if self.origin == "febrl":
            return asdict(febrl.convert(self.name, landing, truth_dir))
        from orchestration.generate import generate

        stats = generate(
            landing,
            truth_dir,
            customers=GENERATOR_CUSTOMERS,
            seed=self.seed or 0,
            realism=self.realism or 0.0,
        )
        return {"dataset": self.name, "customers": GENERATOR_CUSTOMERS, "seed": self.seed,
                "realism": self.realism, "identity_records": stats.identity_records}  # fmt: skip


SETS = {
    s.name: s
    for s in (
        LabelledSet("rldata10000", "dev", "rldata"),
        LabelledSet("febrl3", "dev", "febrl"),
        LabelledSet("generator_r1_dev", "dev", "generator", DEVELOPMENT_SEED, 1.0),
        LabelledSet("rldata500", "test", "rldata"),
        LabelledSet("febrl1", "test", "febrl"),
        LabelledSet("febrl2", "test", "febrl"),
        LabelledSet("febrl4", "test", "febrl"),
        LabelledSet("generator_r0", "test", "generator", TEST_SEED, 0.0),
        LabelledSet("generator_r1", "test", "generator", TEST_SEED, 1.0),
    )
}
DEVELOPMENT = tuple(name for name, s in SETS.items() if s.split == "dev")
TEST = tuple(name for name, s in SETS.items() if s.split == "test")
# A folder this command may empty: it holds one of these markers, written the first time.
MARKERS = (".bench-identity", ".bench-rldata")


def select(datasets: Iterable[str] = (), split: str = "all") -> list[str]:
    """The sets named, or else every set of ``split`` (dev, test or all), in declaration order."""
    names = list(datasets) or [n for n, s in SETS.items() if split in ("all", s.split)]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        raise ValueError(f"unknown data set(s) {unknown}: choose from {', '.join(SETS)}")
    return names


@dataclass(frozen=True)
class PipelineRun:
    succeeded: bool
    identity_seconds: float | None  # the identity step, from the run's event log
    error: str | None  # the failed step and its root cause


def run_pipeline(data_dir: Path) -> PipelineRun:
    """Materialize the identity step and the raw assets it reads.

    The assets are the real ones (``orchestration/defs``), on an ephemeral Dagster instance so the
    benchmark leaves no run history; the raw reconciliation checks come along, as in ``cdp run``.
    A failure is reported, not raised: the plain reference is still worth running.
    """
    # Dagster and the definitions (3 s to import) only when the pipeline runs.
    import dagster as dg

    from orchestration.defs import identity as identity_defs
    from orchestration.defs import raw as raw_defs
    from orchestration.defs.resources import build_resources
    from orchestration.runtime.progress import progress_logger, root_cause

    with data_dir_environment(data_dir):
        job = dg.define_asset_job(
            "bench_identity",
            selection=dg.AssetSelection.assets(*identity_defs.UPSTREAM)
            | dg.AssetSelection.groups("identity"),
        )
        defs = dg.Definitions.merge(
            raw_defs.defs,
            identity_defs.defs,
            dg.Definitions(
                jobs=[job],
                resources=build_resources(get_settings()),
                executor=dg.in_process_executor,
                loggers={"progress": progress_logger},
            ),
        )
        instance = dg.DagsterInstance.ephemeral()
        result = defs.resolve_job_def("bench_identity").execute_in_process(
            run_config={"loggers": {"progress": {}}}, instance=instance, raise_on_error=False
        )
        times: dict[str, float] = {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is not None and entry.step_key == "identity_resolution":
                times[event.event_type_value] = entry.timestamp
        end = times.get("STEP_SUCCESS", times.get("STEP_FAILURE"))
        seconds = round(end - times["STEP_START"], 2) if end and "STEP_START" in times else None
        failures = [e for e in result.all_events if e.is_step_failure]
        instance.dispose()
    if failures:
        first = failures[0]
        return PipelineRun(False, seconds, f"{first.step_key}: {root_cause(first.step_failure_data.error)}")
    return PipelineRun(True, seconds, None)


def load_identity_tables(data_dir: Path) -> dict[str, dict[str, int]]:
    """Load every raw table the identity step reads with the ingestion code alone and write
    ``identity.records`` (no Dagster, no linking): what ``--no-pipeline`` and the tests need for
    the plain reference. Returns rows read, loaded and quarantined per table."""
    settings = data_folder(data_dir)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        loaded = {}
        for spec in (s for s in ALL_TABLES if s.table in IDENTITY_RAW_TABLES):
            result = load_table(con, spec, settings.landing_dir, settings.quarantine_dir, log=lambda _: None)
            loaded[spec.table] = {
                "rows_read": result.rows_read,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
            }
        build_identity_records(con)
    finally:
        con.close()
    return loaded


def _truth_counts(truth_file: Path) -> dict[str, int]:
    """Records, people and true pairs of a truth file."""
    row = duckdb.execute(
        """
        with sizes as (
            select person_id, count(*) as n from read_csv(?, header = true, all_varchar = true) group by all
        )
        select sum(n)::bigint, count(*), sum(n * (n - 1) // 2)::bigint from sizes
        """,
        [str(truth_file)],
    ).fetchall()[0]
    return {"records": row[0], "people": row[1], "true_pairs": row[2]}


def _warehouse_counts(warehouse: Path, pipeline: bool) -> dict[str, int | None]:
    """Rows quarantined by the raw layer, identity records, and the pipeline's customers."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:

        def one(sql: str) -> int:
            return con.execute(sql).fetchall()[0][0]

        return {
            "quarantined_rows": one("select count(*) from raw.quarantine_rows"),
            "identity_records": one("select count(*) from identity.records"),
            "customers": one("select count(distinct customer_id) from identity.customer_source_records")
            if pipeline
            else None,
        }
    finally:
        con.close()


def prepare_folder(folder: Path) -> None:
    """Empty ``folder``'s data and truth, refusing a folder this command did not create: a
    ``--dir`` pointing at a real data folder must not lose its warehouse."""
    if folder.exists() and any(folder.iterdir()) and not any((folder / m).exists() for m in MARKERS):
        raise FileExistsError(
            f"{folder} is not empty and was not made by cdp bench-identity: not touching it"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKERS[0]).touch()
    for name in SETS:
        shutil.rmtree(folder / name, ignore_errors=True)


def bench_set(name: str, folder: Path, *, pipeline: bool = True, echo: Callable[[str], None] = print) -> dict:
    """Convert one set, run the pipeline (or only standardise), evaluate it and the plain reference."""
    labelled = SETS[name]
    data: Settings = data_folder(folder / name / "data")
    truth = folder / name / "truth" / "identities.csv"
    conversion = labelled.convert(data.landing_dir, truth.parent)
    counts = _truth_counts(truth)
    echo(f"{name} ({labelled.split}): {counts['records']:,} records of {counts['people']:,} people")
    run = None
    if pipeline:
        run = run_pipeline(data.data_dir)
    else:
        load_identity_tables(data.data_dir)
    row: dict[str, Any] = {"dataset": name, "split": labelled.split, **counts, "conversion": conversion}
    row["pipeline"] = asdict(run) if run else None
    if run is None or run.succeeded:
        row.update(_warehouse_counts(data.warehouse_path, run is not None))
    if run is not None and run.succeeded:
        evaluation = evaluate_warehouse(data.warehouse_path, truth)
        row["pipeline"] |= {
            "scores": evaluation.model.as_dict(),
            "exact_email_or_phone": evaluation.baseline.as_dict(),
            "missed_pairs": evaluation.missed.as_dict(),
            "blocking": evaluation.blocking and evaluation.blocking.as_dict(),
            "counts": evaluation.counts.as_dict(),
        }
    row["plain_splink"] = plain_splink(data.warehouse_path, truth, data.duckdb_threads).as_dict()
    if run is not None and run.succeeded:
        started = time.perf_counter()
        row["label_trained"] = {
            "scores": label_trained_ceiling(data.data_dir, truth),
            "seconds": round(time.perf_counter() - started, 2),
        }
    return row


def bench(
    datasets: Iterable[str], folder: Path, *, pipeline: bool = True, echo: Callable[[str], None] = print
) -> dict:
    """Run ``bench_set`` on each set; write ``bench-identity.json`` and ``bench-identity.md``."""
    names = select(datasets)
    prepare_folder(folder)
    commit = code_commit()
    rows = [bench_set(name, folder, pipeline=pipeline, echo=echo) for name in names]
    result = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit, "sets": rows}
    (folder / "bench-identity.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (folder / "bench-identity.md").write_text(markdown(result) + "\n", encoding="utf-8")
    return result


def _line(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(result: dict) -> str:
    """Two rows per set, this pipeline and plain Splink, as a markdown table."""
    header = ["set", "split", "records", "people", "quarantined", "model", "pairwise P", "R", "F1",
              "B³ F1", "customers", "seconds"]  # fmt: skip
    lines = [_line(header), _line("---" for _ in header)]
    for row in result["sets"]:
        start = [row["dataset"], row["split"], f"{row['records']:,}", f"{row['people']:,}"]
        start.append(row.get("quarantined_rows", "-"))
        run, reference = row["pipeline"], row["plain_splink"]
        models = [
            (
                "this pipeline",
                run and run.get("scores"),
                row.get("customers"),
                run and run["identity_seconds"],
            )
        ]
        models.append(("plain Splink", reference["scores"], reference["customers"], reference["seconds"]))
        if row.get("label_trained"):
            ceiling = row["label_trained"]
            models.append(("label-trained ceiling", ceiling["scores"], None, ceiling["seconds"]))
        for model, scores, customers, seconds in models:
            if scores is None:
                failed = (run and run["error"]) or "not run"
                lines.append(_line([*start, model, failed, "", "", "", "", ""]))
                continue
            lines.append(
                _line(
                    [*start, model]
                    + [
                        f"{scores[k]:.4f}"
                        for k in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_f1")
                    ]
                    + [f"{customers:,}" if customers is not None else "-", f"{seconds or 0:.1f}"]
                )
            )
    return "\n".join(lines)
