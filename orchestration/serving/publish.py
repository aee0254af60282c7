"""Publish the marts where BI tools can read them while the pipeline writes: ``serving/``.

A DuckDB file has one read-write process or many readers, never both, so BI tools must never open
the warehouse. After each successful run the marts are copied into a separate file,
``serving/marts.duckdb``, built under a temporary name in the same folder and renamed into place:
a reader that holds the previous file keeps reading it (on POSIX the old inode lives until it is
closed) and sees the new one when it reconnects; nobody ever sees a half-written file. The same
tables are written as ``serving/parquet/<mart>.parquet``, each file renamed into place too.

Columns tagged ``meta: {pii: true}`` in the dbt project are published as pseudonymous keys
(``email`` → ``email_key``, a salted SHA-256) unless ``CDP_SERVING_PII`` lists them, so the same
e-mail gets the same key in every mart and every run, and nobody can read it back.

Beside the marts, the vocabularies: every dbt seed that declares ``meta: {vocabulary: ...}``
(``channels``, ``survey_touchpoints``, ``payment_methods``...: ``dbt_project/seeds/_seeds.yml``),
with labels in English and French. Every published column a vocabulary names gets a
``<column>_label`` beside it, joined here in the language of ``CDP_REPORT_LANGUAGE``
(``payment_method`` = ``cb`` → ``payment_method_label`` = "Bank card"): a BI user reads words
without writing a join, and a user renames a code in one CSV.

What BI drivers read: they reflect the file through SQLAlchemy (Superset), JDBC (Metabase) or
Arrow, and each turns a type it does not know into "unknown". So the published file holds no list
column (a list is published as a comma-separated string: the one place lists are flattened; dbt
models keep them) and no ``HUGEINT`` (cast to ``BIGINT`` in the dbt models that sum counts; the
publication refuses a type a BI driver cannot read, naming the column). dbt descriptions are
written in Markdown for the dbt docs; BI tools show comments as plain text, so they are published
with the Markdown stripped.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.lib.secret import installation_secret
from orchestration.lib.sql import identifier, literal
from orchestration.settings import REPORT_LANGUAGES

PUBLICATION_TABLE = "_publication"
# Characters of the hex SHA-256 kept in a pseudonymous key: 64 bits, no collision in practice.
KEY_CHARS = 16


@dataclass(frozen=True)
class Vocabulary:
    """A seed that labels codes (``meta: {vocabulary: ...}`` in ``_seeds.yml``): its ``code`` column,
    the published ``columns`` that hold its codes, and the ``level`` of ``mart_satisfaction``-like
    marts (a ``level`` and a ``segment`` column) whose ``segment`` holds its codes."""

    code: str
    columns: frozenset[str]
    level: str | None = None


@dataclass(frozen=True)
class Mart:
    """A table published for BI: a dbt model of the marts layer, or a vocabulary seed (schema
    ``reference``), as the manifest describes it."""

    name: str
    description: str = ""
    column_descriptions: dict[str, str] = field(default_factory=dict)
    pii_columns: frozenset[str] = frozenset()
    schema: str = "marts"
    vocabulary: Vocabulary | None = None

    @property
    def asset_key(self) -> list[str]:
        """The Dagster asset key path of the dbt node (``marts/<name>``, ``reference/<name>``)."""
        return [self.schema, self.name]


@dataclass(frozen=True)
class Publication:
    path: Path
    parquet_dir: Path
    published_at: str
    rows: dict[str, int]
    pseudonymised: dict[str, list[str]]
    bytes: int


# The published column of a vocabulary seed with the label in the report's language.
LABEL_COLUMN = "label"
# Column types BI drivers read (DuckDB's information_schema spelling, parameters stripped); a list
# is flattened to a string (``_select_list``), anything else stops the publication.
READABLE_TYPES = frozenset(
    {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL", "VARCHAR",
     "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "BLOB"}
)  # fmt: skip
LIST_SEPARATOR = ", "


def _vocabulary(node: dict) -> Vocabulary | None:
    meta = node.get("config", {}).get("meta") or node.get("meta") or {}
    declared = meta.get("vocabulary")
    if not declared:
        return None
    return Vocabulary(declared["code"], frozenset(declared.get("columns", [])), declared.get("level"))


def _is_published(node: dict) -> bool:
    """A model of the ``marts`` schema, or a seed that labels codes (a vocabulary)."""
    if node["resource_type"] == "model":
        return node["config"].get("schema") == "marts"
    return node["resource_type"] == "seed" and _vocabulary(node) is not None


def marts_from_manifest(manifest_path: Path) -> list[Mart]:
    """Every model dbt builds in the ``marts`` schema, and every vocabulary seed, with
    descriptions and PII tags."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    marts = []
    for node in manifest["nodes"].values():
        if not _is_published(node):
            continue
        columns = node.get("columns", {})
        marts.append(
            Mart(
                name=node["name"],
                description=node.get("description", ""),
                column_descriptions={c: v.get("description", "") for c, v in columns.items()},
                pii_columns=frozenset(c for c, v in columns.items() if v.get("meta", {}).get("pii")),
                schema=node["config"]["schema"],
                vocabulary=_vocabulary(node) if node["resource_type"] == "seed" else None,
            )
        )
    return sorted(marts, key=lambda m: m.name)


def plain_text(markdown: str) -> str:
    """A dbt description without its Markdown, for BI tools that show comments as they are:
    no backticks, emphasis, link targets or headings; a paragraph or a bullet per line, wrapped
    lines joined."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # [words](target) → words
    text = re.sub(r"(\*\*|__|`)", "", text)
    lines, current = [], []
    for raw in text.splitlines():
        line = raw.strip()
        bullet = re.match(r"^([-*+]|\d+\.)\s+(.*)", line)
        if not line or bullet or line.startswith("#"):
            if current:
                lines.append(" ".join(current))
            current = []
        if bullet:
            current = [bullet.group(2)]
        elif line.startswith("#"):
            lines.append(line.lstrip("#").strip())
        elif line:
            current.append(line)
    if current:
        lines.append(" ".join(current))
    return "\n".join(lines)


def pseudonym_salt(salt_file: Path) -> str:
    """The installation's secret salt of pseudonymous keys (``installation_secret``)."""
    return installation_secret(salt_file)


@dataclass(frozen=True)
class Column:
    """A published column: its SQL over the warehouse table (alias ``m``), its name, and the
    sentence its comment starts with when it is not the dbt column's (a key, a label, a list)."""

    sql: str
    name: str
    source: str
    note: str = ""


def _base_type(data_type: str) -> str:
    return re.sub(r"\(.*\)$", "", data_type)


# A vocabulary seed as published (its table) and what it labels.
Labeller = tuple[Mart, Vocabulary]
# How a label column's comment names its language (another language is named by its code).
LANGUAGE_NAMES = {"en": "English", "fr": "French"}


def _label_sql(labeller: Labeller, column: str, language: str) -> str:
    seed, vocabulary = labeller
    return (
        f"(select v.{identifier('label_' + language)} "
        f"from {identifier(seed.schema)}.{identifier(seed.name)} as v "
        f"where v.{identifier(vocabulary.code)} = m.{identifier(column)})"
    )


def _label_column(
    mart: Mart, column: str, columns: list[str], labellers: list[Labeller], language: str
) -> Column | None:
    """``<column>_label`` in ``language`` when a vocabulary names ``column`` (or, in a mart with a
    ``level``, labels the ``segment`` of its level); the code itself where the seed has no row for
    it, so a new code shows up (and is seen to need a label) rather than a blank."""
    name = f"{column}_label"
    if mart.vocabulary is not None or name in columns:
        return None
    if column == "segment" and "level" in columns:
        used = [lab for lab in labellers if lab[1].level]
        cases = " ".join(
            f"when {literal(lab[1].level)} then {_label_sql(lab, column, language)}" for lab in used
        )
        sql = f"coalesce(case m.level {cases} end, m.segment)" if used else ""
    else:
        used = [lab for lab in labellers if column in lab[1].columns][:1]
        sql = f"coalesce({_label_sql(used[0], column, language)}, m.{identifier(column)})" if used else ""
    if not used:
        return None
    seeds = ", ".join(seed.name for seed, _ in used)
    return Column(
        sql, name, column, f"Label of {column} in {LANGUAGE_NAMES.get(language, language)} (seed {seeds})."
    )


def _columns(
    con: duckdb.DuckDBPyConnection,
    mart: Mart,
    clear_pii: frozenset[str],
    labellers: list[Labeller],
    language: str,
) -> list[Column]:
    """The published columns of ``<schema>.<mart>``: each PII column swapped for its pseudonymous
    key, each list flattened to a string, a label beside each code a vocabulary names."""
    described = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [mart.schema, mart.name],
    ).fetchall()
    if not described:
        raise RuntimeError(
            f"{mart.schema}.{mart.name} is in the dbt manifest but not in the warehouse: run dbt first"
        )
    names = [c for c, _ in described]
    published = []
    for column, data_type in described:
        quoted = f"m.{identifier(column)}"
        if column in mart.pii_columns and "all" not in clear_pii and column not in clear_pii:
            # Normalised before hashing so 'A@x.fr ' and 'a@x.fr' share a key; null stays null.
            salted = f"getvariable('cdp_salt') || lower(trim({quoted}::varchar))"
            published.append(
                Column(
                    f"substr(sha256({salted}), 1, {KEY_CHARS})",
                    column + "_key",
                    column,
                    f"Pseudonymous key of {column} (salted SHA-256).",
                )
            )
            continue
        if data_type.endswith("[]"):
            published.append(
                Column(
                    f"array_to_string({quoted}, {literal(LIST_SEPARATOR)})",
                    column,
                    column,
                    "Comma-separated list.",
                )
            )
        elif _base_type(data_type) in READABLE_TYPES:
            published.append(Column(quoted, column, column))
        else:
            raise RuntimeError(
                f"{mart.schema}.{mart.name}.{column} is {data_type}, a type BI drivers cannot read: "
                "cast it in the dbt model (a sum of counts to bigint)"
            )
        if mart.vocabulary is not None and column == mart.vocabulary.code:
            published.append(
                Column(
                    f"m.{identifier('label_' + language)}",
                    LABEL_COLUMN,
                    column,
                    f"Label of {column} in {LANGUAGE_NAMES.get(language, language)} (label_{language}).",
                )
            )
        label = _label_column(mart, column, names, labellers, language)
        if label is not None:
            published.append(label)
    return published


def publish_marts(
    con: duckdb.DuckDBPyConnection,
    marts: list[Mart],
    target: Path,
    parquet_dir: Path,
    *,
    salt: str,
    clear_pii: frozenset[str],
    run_id: str,
    language: str = "en",
) -> Publication:
    """Copy ``marts`` from the warehouse (``con``) to the DuckDB file ``target`` and one Parquet
    file each in ``parquet_dir`` (``Settings.published_marts_path``, ``parquet_dir``); atomic per file.

    ``salt`` keys the pseudonyms (``pseudonym_salt``); ``clear_pii`` names PII columns to publish
    as they are ("all" for every one); ``language`` picks the labels (``Settings.report_language``).
    """
    if language not in REPORT_LANGUAGES:
        raise ValueError(
            f"no labels in {language!r}: the vocabulary seeds have {', '.join(REPORT_LANGUAGES)}"
        )
    labellers = [(m, m.vocabulary) for m in marts if m.vocabulary is not None]
    parquet_dir.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{run_id}.tmp")
    for leftover in (partial, Path(f"{partial}.wal")):
        leftover.unlink(missing_ok=True)
    published_at = datetime.now(UTC).isoformat(timespec="seconds")
    rows: dict[str, int] = {}
    pseudonymised: dict[str, list[str]] = {}
    con.execute("set variable cdp_salt = ?", [salt])
    con.execute(f"attach {literal(str(partial))} as cdp_publish")
    try:
        for mart in marts:
            columns = _columns(con, mart, clear_pii, labellers, language)
            select = ", ".join(f"{c.sql} as {identifier(c.name)}" for c in columns)
            table = f"cdp_publish.main.{identifier(mart.name)}"
            source = f"{identifier(mart.schema)}.{identifier(mart.name)} as m"
            con.execute(f"create table {table} as select {select} from {source}")
            _copy_descriptions(con, table, mart, columns)
            rows[mart.name] = con.execute(f"select count(*) from {table}").fetchall()[0][0]
            hashed = [c.source for c in columns if c.name == c.source + "_key"]
            if hashed:
                pseudonymised[mart.name] = hashed
            parquet = parquet_dir / f"{mart.name}.parquet"
            parquet_partial = parquet_dir / f".{mart.name}.parquet.tmp"
            con.execute(f"copy {table} to {literal(str(parquet_partial))} (format parquet, compression zstd)")
            os.replace(parquet_partial, parquet)
        con.execute(
            f"create table cdp_publish.main.{PUBLICATION_TABLE} as "
            "select ?::varchar as run_id, ?::timestamptz as published_at, "
            "unnest(?::varchar[]) as mart, unnest(?::bigint[]) as row_count",
            [run_id, published_at, list(rows), list(rows.values())],
        )
        con.execute(
            f"comment on table cdp_publish.main.{PUBLICATION_TABLE} is "
            "'One row per published mart: the run that published it, when, and its row count.'"
        )
    finally:
        con.execute("detach cdp_publish")
    os.replace(partial, target)
    published = {f"{m.name}.parquet" for m in marts}
    for stale in parquet_dir.glob("*.parquet"):
        if stale.name not in published:
            stale.unlink()  # a mart removed from the dbt project
    return Publication(target, parquet_dir, published_at, rows, pseudonymised, target.stat().st_size)


def _copy_descriptions(con: duckdb.DuckDBPyConnection, table: str, mart: Mart, columns: list[Column]) -> None:
    """dbt's descriptions as DuckDB comments in plain text: BI tools that read the catalog show
    them as they are, Markdown and all."""
    if mart.description:
        con.execute(f"comment on table {table} is {literal(plain_text(mart.description))}")
    for column in columns:
        # dbt may leave a column undocumented; a key, a label or a list says what it is anyway.
        text = plain_text(mart.column_descriptions.get(column.source, ""))
        text = f"{column.note} {text}".strip() if column.note else text
        if text:
            con.execute(f"comment on column {table}.{identifier(column.name)} is {literal(text)}")


def published_previews(path: Path, marts: list[Mart], limit: int) -> dict[str, tuple[list[str], list[tuple]]]:
    """Mart → (columns, first ``limit`` rows) as published in ``path``: what a BI tool reads."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        previews = {}
        for mart in marts:
            cursor = con.execute(f"select * from {identifier(mart.name)} limit {int(limit)}")
            previews[mart.name] = ([d[0] for d in cursor.description], cursor.fetchall())
        return previews
    finally:
        con.close()
