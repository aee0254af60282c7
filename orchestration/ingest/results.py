"""What a load reports: one ``FileResult`` per landing file, gathered per export table.

Apart from the loader because the landing inventory (``landing.record_unmatched``) reports the
files no export reads in the same shape, and the loader needs the landing rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class FileResult:
    """Outcome for one landing file."""

    file: str
    status: str  # loaded | quarantined | skipped | duplicate | growing | ignored | unsupported
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    drift_columns: list[str] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    rows_suppressed: int = 0  # rows of erased persons (privacy suppression), not loaded


@dataclass
class TableResult:
    """Outcome for one export table over all its landing files."""

    table: str
    files: list[FileResult] = field(default_factory=list)
    # (file, rows, loaded at) of files loaded before and no longer under landing/: kept in raw.
    removed: list[tuple[str, int, datetime]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_suppressed(self) -> int:
        return sum(f.rows_suppressed for f in self.files)
