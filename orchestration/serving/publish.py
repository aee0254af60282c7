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

Beside the marts, the vocabularies: every dbt seed with a ``label`` column (``channels``,
``survey_touchpoints``, ``customer_segments``), so BI tools and the KPI report show a code's words
(``click_and_collect`` → "Click & collect") from the one place a user edits them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.lib.secret import installation_secret
from orchestration.lib.sql import identifier, literal

PUBLICATION_TABLE = "_publication"
# Characters of the hex SHA-256 kept in a pseudonymous key: 64 bits, no collision in practice.
KEY_CHARS = 16


@dataclass(frozen=True)
class Mart:
    """A table published for BI: a dbt model of the marts layer, or a vocabulary seed (schema
    ``reference``), as the manifest describes it."""

    name: str
    description: str = ""
    column_descriptions: dict[str, str] = field(default_factory=dict)
    pii_columns: frozenset[str] = frozenset()
    schema: str = "marts"

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


# The column that makes a seed a vocabulary, published with the marts.
LABEL_COLUMN = "label"


def _is_published(node: dict) -> bool:
    """A model of the ``marts`` schema, or a seed that labels codes (a vocabulary)."""
    if node["resource_type"] == "model":
        return node["config"].get("schema") == "marts"
    return node["resource_type"] == "seed" and LABEL_COLUMN in node.get("columns", {})


def marts_from_manifest(manifest_path: Path) -> list[Mart]:
    """Every model dbt builds in the ``marts`` schema, and every seed with a ``label`` column,
    with descriptions and PII tags."""
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
            )
        )
    return sorted(marts, key=lambda m: m.name)


def pseudonym_salt(salt_file: Path) -> str:
    """The installation's secret salt of pseudonymous keys (``installation_secret``)."""
    return installation_secret(salt_file)


def _select_list(con: duckdb.DuckDBPyConnection, mart: Mart, clear_pii: frozenset[str]) -> tuple[str, list]:
    """Columns of ``marts.<mart>`` with each PII column swapped for its pseudonymous key."""
    columns = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [mart.schema, mart.name],
        ).fetchall()
    ]
    if not columns:
        raise RuntimeError(
            f"{mart.schema}.{mart.name} is in the dbt manifest but not in the warehouse: run dbt first"
        )
    select, hashed = [], []
    for column in columns:
        if column in mart.pii_columns and "all" not in clear_pii and column not in clear_pii:
            # Normalised before hashing so 'A@x.fr ' and 'a@x.fr' share a key; null stays null.
            select.append(
                f"substr(sha256(getvariable('cdp_salt') || lower(trim({identifier(column)}::varchar))), "
                f"1, {KEY_CHARS}) as {identifier(column + '_key')}"
            )
            hashed.append(column)
        else:
            select.append(identifier(column))
    return ", ".join(select), hashed


def publish_marts(
    con: duckdb.DuckDBPyConnection,
    marts: list[Mart],
    target: Path,
    parquet_dir: Path,
    *,
    salt: str,
    clear_pii: frozenset[str],
    run_id: str,
) -> Publication:
    """Copy ``marts`` from the warehouse (``con``) to the DuckDB file ``target`` and one Parquet
    file each in ``parquet_dir`` (``Settings.published_marts_path``, ``parquet_dir``); atomic per file.

    ``salt`` keys the pseudonyms (``pseudonym_salt``); ``clear_pii`` names PII columns to publish
    as they are ("all" for every one).
    """
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
            select, hashed = _select_list(con, mart, clear_pii)
            table = f"cdp_publish.main.{identifier(mart.name)}"
            source = f"{identifier(mart.schema)}.{identifier(mart.name)}"
            con.execute(f"create table {table} as select {select} from {source}")
            _copy_descriptions(con, table, mart, hashed)
            rows[mart.name] = con.execute(f"select count(*) from {table}").fetchall()[0][0]
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


def _copy_descriptions(con: duckdb.DuckDBPyConnection, table: str, mart: Mart, hashed: list[str]) -> None:
    """dbt's descriptions as DuckDB comments: BI tools that read the catalog show them."""
    if mart.description:
        con.execute(f"comment on table {table} is {literal(mart.description)}")
    published = {r[0] for r in con.execute(f"describe {table}").fetchall()}
    for column, text in mart.column_descriptions.items():
        if column in hashed:
            name, text = column + "_key", f"Pseudonymous key of {column} (salted SHA-256). {text}"
        else:
            name = column
        if text and name in published:  # dbt may document a column the model no longer has
            con.execute(f"comment on column {table}.{identifier(name)} is {literal(text)}")


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
