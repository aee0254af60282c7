"""Write rows in exactly the format an ``ExportTable`` declares, one file per month.

The generator produces Python values; the column types and the table's format (delimiter,
encoding, decimal comma, date formats) decide how they are written, so generated files and the
ingestion code follow the same contract.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from orchestration.exports.spec import Column, CsvFormat, ExportTable

PARIS = ZoneInfo("Europe/Paris")
# ``cdp generate --gzip``: level 1, the fastest. At 10,000 customers it wrote 15 % of the plain
# bytes; level 3 wrote 14 % and took 9 % longer to generate (docs/benchmarks.md).
GZIP_LEVEL = 1
Formatter = Callable[[Any], str]
_OFFSETS: dict[tuple[int, int, int, int], str] = {}


def paris_offset(local: datetime) -> str:
    """``+01:00`` or ``+02:00``: Paris' UTC offset at that local time (cached per hour; it is
    computed by ``zoneinfo`` once per hour of the period, not once per row)."""
    key = (local.year, local.month, local.day, local.hour)
    offset = _OFFSETS.get(key)
    if offset is None:
        offset = _OFFSETS[key] = local.replace(tzinfo=PARIS).isoformat()[-6:]
    return offset


def _formatter(column: Column, spec: ExportTable) -> Formatter | None:
    fmt = spec.format
    match column.type:
        case "decimal" if fmt.decimal_comma:
            return lambda v: f"{v:.2f}".replace(".", ",")
        case "decimal":
            return lambda v: f"{v:.2f}"
        case "date":
            return lambda v: v.strftime(fmt.date_format)
        case "timestamp":
            if fmt.timestamp_format:
                return lambda v: v.strftime(fmt.timestamp_format)
            return lambda v: v.isoformat(sep=" ", timespec="seconds")
        case "timestamptz":
            # Simulated times are local (Paris); exports carry the UTC offset of that moment.
            return lambda v: v.isoformat(timespec="seconds") + paris_offset(v)
        case "boolean":
            return lambda v: "true" if v else "false"
        case "integer":
            return str
    return None  # text is written as it is


def partition_name(
    spec: ExportTable,
    when: date | datetime | None,
    history_before: date,
    daily_from: date | None = None,
    gzip: bool = False,
) -> str:
    """File name for the month of ``when``: ``tickets_*.csv`` -> ``tickets_2026-03.csv``.

    Records older than the simulated period (accounts, members, consents from earlier years) go
    to one ``_initial`` file, as in the historical extract a platform receives on its first day.
    From ``daily_from`` on, one file per day (``tickets_2026-10-31.csv``): the daily deliveries a
    retailer's landing folder receives, which ``cdp bench --increment-days`` replays one by one.
    With ``gzip``, the name gets the ``.gz`` suffix ingestion accepts on any export's pattern.
    """
    suffix = ".gz" if gzip else ""
    if spec.partitioned_by == "none" or when is None:
        return spec.pattern.replace("*", "") + suffix
    day = (when.year, when.month, when.day)
    if day < (history_before.year, history_before.month, history_before.day):
        return spec.pattern.replace("*", "initial") + suffix
    if daily_from is not None and day >= (daily_from.year, daily_from.month, daily_from.day):
        return spec.pattern.replace("*", f"{when.year:04d}-{when.month:02d}-{when.day:02d}") + suffix
    return spec.pattern.replace("*", f"{when.year:04d}-{when.month:02d}") + suffix


def _gzip_text(path: Path, encoding: str, header: str | None) -> tuple[IO[bytes], IO[str]]:
    """A gzip file opened for text: (the file, the text stream to write rows to).

    The header line, when there is one, is a gzip member of its own, the rows the next member:
    the generator's merge (``generate._concatenate``) joins the shards' files by dropping the
    first member of every shard's file but the first, without decompressing the rows. A file
    of several members is one gzip stream to every reader (gzip, Python, DuckDB). ``mtime=0``
    and no file name in the gzip header keep the bytes the same from run to run.
    """
    raw = path.open("wb")
    if header is not None:
        raw.write(gzip.compress(header.encode(encoding, errors="replace"), GZIP_LEVEL, mtime=0))
        encoding = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM is in the header
    body = gzip.GzipFile(filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=raw, mtime=0)
    return raw, io.TextIOWrapper(body, encoding=encoding, errors="replace", newline="")


class ExportWriter:
    """Appends rows (tuples in the spec's column order) to the right monthly (or daily) file."""

    def __init__(
        self,
        spec: ExportTable,
        out_dir: Path,
        history_before: date,
        daily_from: date | None = None,
        gzip: bool = False,
    ) -> None:
        self.spec = spec
        self.history_before = history_before
        self.daily_from = daily_from
        self.gzip = gzip
        self.files: list[IO[bytes]] = []  # gzip files, closed after their text streams
        self.dir = out_dir / spec.source
        self.dir.mkdir(parents=True, exist_ok=True)
        self.formatters = [_formatter(c, spec) for c in spec.columns]
        self.names = spec.column_names
        self.handles: dict[str, tuple[IO[str], Any]] = {}
        self.by_day: dict[tuple[int, int, int] | None, tuple[IO[str], Any]] = {}
        self.encode_json = json.JSONEncoder(ensure_ascii=False).encode
        self.rows = 0

    def _open(self, name: str) -> tuple[IO[str], Any]:
        fmt = self.spec.format
        path = self.dir / name
        if isinstance(fmt, CsvFormat):
            encoding = "utf-8-sig" if self.spec.source == "survey" else fmt.encoding
            terminator = "\r\n" if fmt.encoding == "cp1252" else "\n"
            header = io.StringIO()
            csv.writer(header, delimiter=fmt.delimiter, lineterminator=terminator).writerow(
                [n.upper() if fmt.encoding == "cp1252" else n for n in self.names]
            )
            if self.gzip:
                raw, handle = _gzip_text(path, encoding, header.getvalue())
                self.files.append(raw)
            else:
                handle = path.open("w", encoding=encoding, errors="replace", newline="")
                handle.write(header.getvalue())
            writer = csv.writer(handle, delimiter=fmt.delimiter, lineterminator=terminator)
            return handle, writer.writerow
        if self.gzip:
            raw, handle = _gzip_text(path, "utf-8", None)
            self.files.append(raw)
            return handle, None
        handle = path.open("w", encoding="utf-8", newline="\n")
        return handle, None

    def write(self, when: date | datetime | None, row: tuple[Any, ...]) -> None:
        day = None if when is None else (when.year, when.month, when.day)
        entry = self.by_day.get(day)
        if entry is None:
            name = partition_name(self.spec, when, self.history_before, self.daily_from, self.gzip)
            if name not in self.handles:
                self.handles[name] = self._open(name)
            entry = self.by_day[day] = self.handles[name]
        handle, writerow = entry
        values = [v if f is None or v is None else f(v) for f, v in zip(self.formatters, row, strict=True)]
        if writerow is not None:
            writerow(["" if v is None else v for v in values])
        else:
            doc = {n: v for n, v in zip(self.names, values, strict=True) if v is not None}
            handle.write(self.encode_json(doc) + "\n")
        self.rows += 1

    def close(self) -> None:
        for handle, _ in self.handles.values():
            handle.close()
        for raw in self.files:
            raw.close()
        self.files.clear()
        self.handles.clear()
        self.by_day.clear()


class TruthWriter:
    """Plain UTF-8 CSV for ground truth files."""

    def __init__(self, path: Path, header: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle, lineterminator="\n")
        self.writer.writerow(header)
        self.rows = 0

    def write(self, *row: Any) -> None:
        self.writer.writerow(row)
        self.rows += 1

    def close(self) -> None:
        self.handle.close()
