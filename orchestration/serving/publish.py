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

Only what changed is written again. Before publishing, each table gets a fingerprint computed in
the warehouse (one aggregate scan: its row count and the sum of its rows' hashes) together with
everything else its published form depends on: the column types, the SQL that publishes each
column (which says which PII columns become keys and which language the labels are in), the
comments, the rows of the vocabularies its labels come from, the salt when it has keys, this
module's code and DuckDB's version. The fingerprints are kept in the published file itself
(``_publication.fingerprint``), so they can never disagree with the tables they describe: the one
rename that publishes the tables publishes their fingerprints. The next publication copies the
previous file to the temporary name (a file copy, no row rewritten), replaces the tables whose
fingerprint changed, drops those no longer published, and renames as before; only the changed
tables' Parquet files are rewritten. No previous file, one DuckDB cannot open, or fingerprints of
another format: everything is written, as the first time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.lib.secret import installation_secret
from orchestration.lib.sql import identifier, literal
from orchestration.settings import REPORT_LANGUAGES

PUBLICATION_TABLE = "_publication"
# The prefix of every fingerprint: change it when fingerprints are computed differently, and the
# next publication, finding fingerprints of another format, writes every table again.
FINGERPRINT_FORMAT = "fp1"
# What the published form depends on besides the inputs each fingerprint lists: this module's code
# (a change to it republishes every table) and DuckDB (``hash`` is not promised stable across
# versions, and neither is the file format).
PUBLICATION_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest() + f" duckdb {duckdb.__version__}"
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
    """What a publication wrote: ``rewritten`` tables (all of them when ``full_reason`` says why),
    the others ``kept`` as the previous publication left them."""

    path: Path
    parquet_dir: Path
    published_at: str
    rows: dict[str, int]
    pseudonymised: dict[str, list[str]]
    bytes: int
    rewritten: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    full_reason: str | None = None

    @property
    def summary(self) -> str:
        """``rewrote 3 of 57 tables, kept 54`` (and why everything was written, when it was)."""
        total = len(self.rewritten) + len(self.kept)
        text = f"rewrote {len(self.rewritten)} of {total} tables, kept {len(self.kept)}"
        return f"{text} ({self.full_reason})" if self.full_reason else text


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
    # The warehouse column's type, and the vocabulary seeds a label column reads: both shape what
    # is published, so both enter the table's fingerprint.
    source_type: str = ""
    seeds: tuple[str, ...] = ()


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
    seeds = tuple(seed.name for seed, _ in used)
    note = f"Label of {column} in {LANGUAGE_NAMES.get(language, language)} (seed {', '.join(seeds)})."
    return Column(sql, name, column, note, seeds=seeds)


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
                    data_type,
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
                    data_type,
                )
            )
        elif _base_type(data_type) in READABLE_TYPES:
            published.append(Column(quoted, column, column, source_type=data_type))
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
                    data_type,
                )
            )
        label = _label_column(mart, column, names, labellers, language)
        if label is not None:
            published.append(label)
    return published


@dataclass(frozen=True)
class _Planned:
    """A table about to be published: its columns, row count and fingerprint."""

    mart: Mart
    columns: list[Column]
    rows: int
    fingerprint: str


@dataclass(frozen=True)
class _Written:
    """A table of the previous publication: its fingerprint, and the run that wrote it, when."""

    fingerprint: str
    run_id: str
    written_at: str


def _column_comment(mart: Mart, column: Column) -> str:
    # dbt may leave a column undocumented; a key, a label or a list says what it is anyway.
    text = plain_text(mart.column_descriptions.get(column.source, ""))
    return f"{column.note} {text}".strip() if column.note else text


def _row_digests(con: duckdb.DuckDBPyConnection, marts: list[Mart]) -> dict[str, tuple[int, str]]:
    """Table → (row count, sum of its rows' hashes), one aggregate scan each in the warehouse: the
    sum does not depend on row order, and changes when a row is added, removed or altered."""
    digests = {}
    for mart in marts:
        source = f"{identifier(mart.schema)}.{identifier(mart.name)}"
        count, total = con.execute(
            f"select count(*), coalesce(sum(hash(m)), 0)::varchar from {source} as m"
        ).fetchall()[0]
        digests[mart.name] = (count, total)
    return digests


def _fingerprint(mart: Mart, columns: list[Column], digests: dict[str, tuple[int, str]], salt: str) -> str:
    """Everything the published form of ``mart`` depends on, hashed: its rows, the rows of the
    vocabularies its labels read, each column's type, publishing SQL (keys or clear PII, label
    language) and comment, the table's comment, the salt if it has keys, and the publication code."""
    seeds = sorted({seed for column in columns for seed in column.seeds})
    keyed = any(column.name == column.source + "_key" for column in columns)
    inputs = {
        "code": PUBLICATION_CODE,
        "table": [mart.schema, mart.name, plain_text(mart.description)],
        "columns": [[c.name, c.sql, c.source_type, _column_comment(mart, c)] for c in columns],
        "rows": digests[mart.name],
        "labels": {seed: digests[seed] for seed in seeds},
        # Only a digest of the salt, and only where keys depend on it.
        "salt": hashlib.sha256(salt.encode()).hexdigest() if keyed else None,
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"{FINGERPRINT_FORMAT}:{digest}"


def _open_previous(
    con: duckdb.DuckDBPyConnection, target: Path, partial: Path
) -> tuple[dict[str, _Written], str | None]:
    """Copy the previous publication ``target`` to ``partial`` and attach it as ``cdp_publish``:
    its tables (by fingerprint) and ``None``; or, when there is none worth building on, an empty
    ``partial`` attached and the reason every table is written."""
    reason = None
    if not target.exists():
        reason = "first publication"
    elif Path(f"{target}.wal").exists():
        reason = "the previous publication has a write-ahead log"  # not a file we wrote
    else:
        shutil.copyfile(target, partial)  # the reader's file is untouched: a new inode
        try:
            con.execute(f"attach {literal(str(partial))} as cdp_publish")
            rows = con.execute(
                f"select mart, fingerprint, written_run_id, written_at::varchar "
                f"from cdp_publish.main.{PUBLICATION_TABLE}"
            ).fetchall()
        except duckdb.Error as error:
            reason = f"the previous publication has no fingerprints to compare ({type(error).__name__})"
        else:
            previous = {mart: _Written(fp, run, at) for mart, fp, run, at in rows}
            if all((w.fingerprint or "").startswith(f"{FINGERPRINT_FORMAT}:") for w in previous.values()):
                return previous, None
            reason = "fingerprints of another format"
        con.execute("detach database if exists cdp_publish")
        for leftover in (partial, Path(f"{partial}.wal")):
            leftover.unlink(missing_ok=True)
    con.execute(f"attach {literal(str(partial))} as cdp_publish")
    return {}, reason


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
    """Publish ``marts`` from the warehouse (``con``) to the DuckDB file ``target`` and one Parquet
    file each in ``parquet_dir`` (``Settings.published_marts_path``, ``parquet_dir``); atomic per
    file, and only the tables whose fingerprint changed are written again.

    ``salt`` keys the pseudonyms (``pseudonym_salt``); ``clear_pii`` names PII columns to publish
    as they are ("all" for every one); ``language`` picks the labels (``Settings.report_language``).
    """
    if language not in REPORT_LANGUAGES:
        raise ValueError(
            f"no labels in {language!r}: the vocabulary seeds have {', '.join(REPORT_LANGUAGES)}"
        )
    labellers = [(m, m.vocabulary) for m in marts if m.vocabulary is not None]
    digests = _row_digests(con, marts)
    planned = []
    for mart in marts:
        columns = _columns(con, mart, clear_pii, labellers, language)
        fingerprint = _fingerprint(mart, columns, digests, salt)
        planned.append(_Planned(mart, columns, digests[mart.name][0], fingerprint))
    parquet_dir.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{run_id}.tmp")
    for leftover in (partial, Path(f"{partial}.wal")):
        leftover.unlink(missing_ok=True)
    published_at = datetime.now(UTC).isoformat(timespec="seconds")
    pseudonymised: dict[str, list[str]] = {}
    written: dict[str, _Written] = {}
    rewritten: list[str] = []
    con.execute("set variable cdp_salt = ?", [salt])
    previous, full_reason = _open_previous(con, target, partial)
    try:
        existing = {
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where database_name = 'cdp_publish'"
            ).fetchall()
        }
        for stale in existing - {p.mart.name for p in planned}:
            con.execute(f"drop table cdp_publish.main.{identifier(stale)}")  # no longer published
        for plan in planned:
            mart, columns = plan.mart, plan.columns
            hashed = [c.source for c in columns if c.name == c.source + "_key"]
            if hashed:
                pseudonymised[mart.name] = hashed
            parquet = parquet_dir / f"{mart.name}.parquet"
            before = previous.get(mart.name)
            if (
                before
                and before.fingerprint == plan.fingerprint
                and mart.name in existing
                and parquet.exists()
            ):
                written[mart.name] = before
                continue
            select = ", ".join(f"{c.sql} as {identifier(c.name)}" for c in columns)
            table = f"cdp_publish.main.{identifier(mart.name)}"
            source = f"{identifier(mart.schema)}.{identifier(mart.name)} as m"
            con.execute(f"create or replace table {table} as select {select} from {source}")
            _copy_descriptions(con, table, mart, columns)
            parquet_partial = parquet_dir / f".{mart.name}.parquet.tmp"
            con.execute(f"copy {table} to {literal(str(parquet_partial))} (format parquet, compression zstd)")
            os.replace(parquet_partial, parquet)
            written[mart.name] = _Written(plan.fingerprint, run_id, published_at)
            rewritten.append(mart.name)
        _write_publication_table(con, run_id, published_at, planned, written)
    finally:
        con.execute("detach cdp_publish")
    os.replace(partial, target)
    published = {f"{m.name}.parquet" for m in marts}
    for stale in parquet_dir.glob("*.parquet"):
        if stale.name not in published:
            stale.unlink()  # a mart removed from the dbt project
    return Publication(
        target,
        parquet_dir,
        published_at,
        {p.mart.name: p.rows for p in planned},
        pseudonymised,
        target.stat().st_size,
        rewritten=rewritten,
        kept=[p.mart.name for p in planned if p.mart.name not in rewritten],
        full_reason=full_reason,
    )


def _write_publication_table(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    published_at: str,
    planned: list[_Planned],
    written: dict[str, _Written],
) -> None:
    """``_publication``, one row per table: this publication (``run_id``, ``published_at``: the
    same on every row, the file's), and the run that last wrote the table, when, and its fingerprint
    (earlier for a table kept as it was)."""
    names = [p.mart.name for p in planned]
    con.execute(f"drop table if exists cdp_publish.main.{PUBLICATION_TABLE}")
    con.execute(
        f"create table cdp_publish.main.{PUBLICATION_TABLE} as "
        "select ?::varchar as run_id, ?::timestamptz as published_at, unnest(?::varchar[]) as mart, "
        "unnest(?::bigint[]) as row_count, unnest(?::varchar[]) as written_run_id, "
        "unnest(?::timestamptz[]) as written_at, unnest(?::varchar[]) as fingerprint",
        [
            run_id,
            published_at,
            names,
            [p.rows for p in planned],
            [written[n].run_id for n in names],
            [written[n].written_at for n in names],
            [written[n].fingerprint for n in names],
        ],
    )
    con.execute(
        f"comment on table cdp_publish.main.{PUBLICATION_TABLE} is "
        "'One row per published table: the run that published this file and when (run_id, "
        "published_at), the table''s row count, the run that last wrote the table and when "
        "(written_run_id, written_at: earlier for a table unchanged since), and the fingerprint "
        "of its content that decides whether the next publication writes it again.'"
    )


def _copy_descriptions(con: duckdb.DuckDBPyConnection, table: str, mart: Mart, columns: list[Column]) -> None:
    """dbt's descriptions as DuckDB comments in plain text: BI tools that read the catalog show
    them as they are, Markdown and all."""
    if mart.description:
        con.execute(f"comment on table {table} is {literal(plain_text(mart.description))}")
    for column in columns:
        text = _column_comment(mart, column)
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
