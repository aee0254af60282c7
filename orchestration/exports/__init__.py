"""Export formats of every source system (see ``spec``), gathered in one registry."""

from pathlib import Path

from orchestration.exports import crm, ecommerce, pos, survey
from orchestration.exports.mapping import MappingError, load_mapping, mapping_path
from orchestration.exports.spec import Column, CsvFormat, ExportTable, NdjsonFormat

SOURCES: dict[str, tuple[ExportTable, ...]] = {
    "pos": pos.TABLES,
    "ecommerce": ecommerce.TABLES,
    "crm": crm.TABLES,
    "survey": survey.TABLES,
}
ALL_TABLES: tuple[ExportTable, ...] = tuple(t for tables in SOURCES.values() for t in tables)


def effective_table(spec: ExportTable, data_dir: Path) -> ExportTable:
    """``spec`` with the retailer's mapping file (``sources.yml``) applied, read now."""
    return load_mapping(mapping_path(data_dir), ALL_TABLES)[spec.table]


def effective_tables(data_dir: Path) -> tuple[ExportTable, ...]:
    """Every export table with the mapping file applied, in the contract's order."""
    mapped = load_mapping(mapping_path(data_dir), ALL_TABLES)
    return tuple(mapped[t.table] for t in ALL_TABLES)


__all__ = [
    "ALL_TABLES",
    "SOURCES",
    "Column",
    "CsvFormat",
    "ExportTable",
    "MappingError",
    "NdjsonFormat",
    "effective_table",
    "effective_tables",
]
