"""Export formats of every source system (see ``spec``), gathered in one registry."""

from orchestration.exports import crm, ecommerce, pos, survey
from orchestration.exports.spec import Column, CsvFormat, ExportTable, NdjsonFormat

SOURCES: dict[str, tuple[ExportTable, ...]] = {
    "pos": pos.TABLES,
    "ecommerce": ecommerce.TABLES,
    "crm": crm.TABLES,
    "survey": survey.TABLES,
}
ALL_TABLES: tuple[ExportTable, ...] = tuple(t for tables in SOURCES.values() for t in tables)

__all__ = ["ALL_TABLES", "SOURCES", "Column", "CsvFormat", "ExportTable", "NdjsonFormat"]
