"""The contract between source systems and the raw layer: how each export file looks.

One ``ExportTable`` per raw table. The ingestion code reads files with these specs, the sample-data
generator writes files with them, and the README's format reference is generated from them, so the
three can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["varchar", "integer", "decimal", "date", "timestamp", "timestamptz", "boolean"]


@dataclass(frozen=True)
class Column:
    """One column of an export, named as it appears in the file header (case-insensitive)."""

    name: str
    type: ColumnType = "varchar"
    required: bool = False
    description: str = ""
    pii: bool = False
    # Accepted values (compared case-insensitively, trimmed); any other value is quarantined.
    values: tuple[str, ...] = ()
    # Other names the column has in a retailer's files (set by the mapping file, sources.yml).
    aliases: tuple[str, ...] = ()
    # A value that does not read as ``type`` does not quarantine the row: the typed column is
    # NULL and the text, as delivered, is kept in ``<name>_as_delivered`` (always filled, so a
    # reader can tell "empty" from "not readable"). For values whose mistakes still say
    # something: a birth date typed 31/02 or with month 13 is evidence of who a customer is.
    keep_as_delivered: bool = False

    @property
    def delivered_column(self) -> str | None:
        """The raw column holding the delivered text, for ``keep_as_delivered`` columns."""
        return f"{self.name}_as_delivered" if self.keep_as_delivered else None


@dataclass(frozen=True)
class CsvFormat:
    """Delimited text. Encodings other than UTF-8 are transcoded before DuckDB reads the file."""

    delimiter: str = ","
    encoding: Literal["utf-8", "cp1252"] = "utf-8"
    decimal_comma: bool = False
    date_format: str = "%Y-%m-%d"
    # None means ISO 8601 (with or without offset), parsed by DuckDB's own cast.
    timestamp_format: str | None = None
    kind: Literal["csv"] = "csv"

    def describe(self) -> str:
        parts = [
            f"CSV, `{self.delimiter}`-separated, {self.encoding}",
            'header row, `"` quotes (doubled to escape)',
            "decimal comma" if self.decimal_comma else "decimal point",
            f"dates `{self.date_format}`",
            f"timestamps `{self.timestamp_format}`" if self.timestamp_format else "ISO 8601 timestamps",
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class NdjsonFormat:
    """One JSON object per line, UTF-8. Keys are the column names."""

    date_format: str = "%Y-%m-%d"
    timestamp_format: str | None = None
    decimal_comma: bool = False
    encoding: Literal["utf-8"] = "utf-8"
    kind: Literal["ndjson"] = "ndjson"

    def describe(self) -> str:
        return "NDJSON (one object per line), UTF-8, ISO 8601 timestamps"


@dataclass(frozen=True)
class ExportTable:
    """One export table of one source system, loaded into ``raw.<source>_<name>``."""

    source: str
    name: str
    pattern: str
    format: CsvFormat | NdjsonFormat
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str
    partitioned_by: str = field(default="month")
    # SQL ordering a record's versions before delivery order, newest first, when the source says
    # when a record changed (e.g. ``lastmodifieddate desc nulls last``); mirrored by the dbt
    # staging model's ``latest_delivered`` call.
    version_order: str = ""
    # More file name patterns of this export (a mapping file's ``pattern:`` adds to the contract's
    # unless ``replace_patterns: true``), so a retailer's usual files keep matching.
    extra_patterns: tuple[str, ...] = ()
    # Spreadsheets protect a number typed as text with a leading apostrophe ('7210448301100,
    # '+33612...); Shopify exports keep it. Stripped from text values at load, with a note.
    strip_apostrophes: bool = True

    @property
    def patterns(self) -> tuple[str, ...]:
        """Every file name pattern of this export, the first being the one shown."""
        return (self.pattern, *(p for p in self.extra_patterns if p != self.pattern))

    @property
    def table(self) -> str:
        return f"{self.source}_{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def delivered_columns(self) -> list[Column]:
        """Columns whose delivered text the raw table keeps beside the typed value."""
        return [c for c in self.columns if c.keep_as_delivered]
