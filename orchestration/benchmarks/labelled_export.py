"""Labelled person records (RLdata, FEBRL) written as our export files, with their truth.

Each record becomes one CRM contact or one web shop account in our documented export formats,
written by the generator's own ``ExportWriter``; the truth file names records as
``identity.records`` does (``crm_contacts:<contact_id>``). Only the fields the data set delivers
are filled, with the record id and the creation time the contracts require: nothing is invented
(no e-mail, phone or loyalty card a data set does not have), so the matcher has what the data set
gives and no more.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from orchestration.exports import crm, ecommerce
from orchestration.exports.spec import ExportTable
from orchestration.generate.writers import ExportWriter

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


@dataclass(frozen=True)
class DeliveredDate:
    """A birth date as the data set delivers it, which need not be a calendar date (month 13, day
    0, 31 February: typos are part of the test). Written in the export's date format like a
    ``date``, so ingestion, not the converter, decides what becomes of it."""

    year: int
    month: int
    day: int

    def strftime(self, fmt: str) -> str:
        return (
            fmt.replace("%Y", f"{self.year:04d}")
            .replace("%m", f"{self.month:02d}")
            .replace("%d", f"{self.day:02d}")
        )

    def is_calendar_date(self) -> bool:
        try:
            date(self.year, self.month, self.day)
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class LabelledRecord:
    """One labelled person record: what a form would hold, and the true person."""

    person_id: str
    first_name: str | None
    last_name: str | None
    birth_date: DeliveredDate | None
    street: str | None = None
    address2: str | None = None
    postcode: str | None = None
    city: str | None = None


@dataclass(frozen=True)
class Source:
    """An export table that receives labelled records, and the columns that carry them."""

    spec: ExportTable
    record_id: str
    first_name: str
    last_name: str
    birth_date: str
    street: str
    postcode: str
    city: str
    created: str
    first_id: int  # ids count up from here, in the shuffled order: they say nothing of the person
    address2: str = "address2"

    @property
    def source_system(self) -> str:
        """The name ``identity.records`` gives the source (``crm_contacts``, ...)."""
        return self.spec.table

    @property
    def takes_records(self) -> bool:
        """Whether every required column is one we can fill without identity signal: a record
        the contract requires an e-mail for cannot be written without inventing one."""
        return set(self.spec.required) <= {self.record_id, self.created}

    def row(self, record_id: str, record: LabelledRecord, created: datetime) -> tuple[object, ...]:
        values = {
            self.record_id: record_id,
            self.first_name: record.first_name,
            self.last_name: record.last_name,
            self.birth_date: record.birth_date,
            self.street: record.street,
            self.address2: record.address2,
            self.postcode: record.postcode,
            self.city: record.city,
            self.created: created,
        }
        return tuple(values.get(c) for c in self.spec.column_names)


CRM_CONTACTS = Source(
    crm.CONTACTS, "contact_id", "firstname", "lastname", "date_of_birth", "address", "zip", "city",
    "createdate", 300_001,
)  # fmt: skip
WEB_CUSTOMERS = Source(
    ecommerce.CUSTOMERS, "customer_id", "first_name", "last_name", "birth_date", "address1", "zip",
    "city", "created_at", 800_001,
)  # fmt: skip
LABELLED_SOURCES = (CRM_CONTACTS, WEB_CUSTOMERS)


@dataclass(frozen=True)
class Conversion:
    dataset: str
    records: int
    persons: int
    true_pairs: int
    per_source: dict[str, int]
    # Birth dates delivered that are not calendar dates: the raw layer may quarantine their rows.
    birth_dates_not_calendar: int
    web_shop_used: bool


def write_exports(
    dataset: str, records: list[LabelledRecord], landing: Path, truth_dir: Path, seed: int = SEED
) -> Conversion:
    """Write ``records`` as landing files and ``truth_dir/identities.csv``; return the counts.

    Records are shuffled before ids are given, so neither an id nor a file position says which
    records are one person. When the web shop's contract requires an e-mail, every record goes to
    the CRM.
    """
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
            writers[source.source_system].write(created, source.row(record_id, record, created))
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
        birth_dates_not_calendar=sum(
            r.birth_date is not None and not r.birth_date.is_calendar_date() for r in records
        ),
        web_shop_used=WEB_CUSTOMERS in sources,
    )
