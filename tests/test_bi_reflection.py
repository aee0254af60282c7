"""What a BI tool sees of ``serving/``: every published table reflected the way Superset and
Metabase list them (SQLAlchemy's inspector over duckdb-engine) and every Parquet file read with
pyarrow, with no type the tool would call unknown, a plain-text comment on every table, and a
label beside every code a vocabulary seed names."""

from __future__ import annotations

import inspect
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy
from duckdb_engine import Dialect as DuckDBDialect
from sqlalchemy import exc as sa_exc
from sqlalchemy import types as sa_types
from sqlalchemy.dialects import registry

from orchestration.lib.dbt import ensure_manifest
from orchestration.serving.publish import marts_from_manifest

# Markdown a BI tool would show as is.
MARKDOWN = re.compile(r"`|\*\*|^\s*[-*] |^#|\]\(", re.MULTILINE)


# SQLAlchemy 2.1's PostgreSQL dialect takes a loader of enums and domains; 2.0 took both dicts.
NAMED_TYPE_LOADER = "named_type_loader" in inspect.signature(DuckDBDialect._get_columns_info).parameters


class CollationlessDuckDBDialect(DuckDBDialect):
    """duckdb-engine 0.17 made to reflect columns on SQLAlchemy 2.1, as a BI tool would with
    SQLAlchemy 2.0 (where plain duckdb-engine works: tried with 2.0.59).

    Two things break ``get_columns`` on 2.1 whatever the file holds. SQLAlchemy >= 2.0.45 reflects a
    column's collation from ``pg_catalog.pg_collation``; 2.1 also joins it to ``pg_namespace`` on
    ``collnamespace`` and calls ``json_build_object``, and DuckDB's ``pg_catalog`` has a two-column
    ``pg_collation`` stub and neither of the others: "pg_catalog.pg_collation not found"
    (duckdb-engine issues 1379 and 1391; its open pull request 1393 returns null instead, as here:
    DuckDB has no collations to report). Then duckdb-engine's ``get_multi_columns`` calls
    ``_get_columns_info(rows, domains, enums, schema)`` as SQLAlchemy 2.0 did, where 2.1 takes a
    loader of named types. docs/serving.md tells BI users to keep SQLAlchemy below 2.1."""

    supports_statement_cache = False  # as duckdb-engine's own dialect

    def _columns_query(self, schema, has_filter_names, scope, kind):  # type: ignore[no-untyped-def]
        query = super()._columns_query(schema, has_filter_names, scope, kind)
        return query.with_only_columns(
            *(
                sqlalchemy.null().label("collation") if column.key == "collation" else column
                for column in query.selected_columns
            )
        )

    def _get_columns_info(self, rows, *loader_and_schema):  # type: ignore[no-untyped-def]
        if len(loader_and_schema) == 3 and NAMED_TYPE_LOADER:  # duckdb-engine's 2.0 call on 2.1
            domains, enums, schema = loader_and_schema
            loader = SimpleNamespace(domains=domains, enums=enums)
            return super()._get_columns_info(rows, loader, schema)
        return super()._get_columns_info(rows, *loader_and_schema)


registry.register("duckdb.collationless", __name__, "CollationlessDuckDBDialect")


def _engine(path: Path, driver: str = "duckdb") -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(f"{driver}:///{path}", connect_args={"read_only": True})


@pytest.fixture(scope="module")
def published(pipeline: tuple) -> Path:
    settings, result = pipeline
    assert result.success
    return settings.serving_dir / "marts.duckdb"


def test_every_published_table_reflects_with_known_types_and_a_plain_comment(published: Path) -> None:
    con = duckdb.connect(str(published), read_only=True)
    expected = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    # What Metabase's JDBC driver reads: DuckDB's own type names.
    exotic = con.execute(
        "select table_name, column_name, data_type from duckdb_columns() where not internal "
        "and (data_type like '%HUGEINT%' or data_type like '%[]' "
        "or regexp_matches(data_type, '^(STRUCT|MAP|UNION|INTERVAL|UUID|BIT)'))"
    ).fetchall()
    con.close()
    assert exotic == []
    # What the plain driver reflects on any SQLAlchemy: names and comments.
    engine = _engine(published)
    plain = sqlalchemy.inspect(engine)
    tables = plain.get_table_names()
    assert set(tables) == expected and len(tables) > 40
    for table in tables:
        comment = plain.get_table_comment(table)["text"]
        assert comment and not MARKDOWN.search(comment), (table, comment)
    engine.dispose()  # one configuration per open DuckDB file and process
    # Column reflection: SQLAlchemy warns "Did not recognize type" and returns NullType for a type
    # it cannot map (a DuckDB list, a struct); make that an error.
    engine = _engine(published, "duckdb+collationless")
    inspector = sqlalchemy.inspect(engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error", sa_exc.SAWarning)
        for table in tables:
            columns = inspector.get_columns(table)
            assert columns, table
            for column in columns:
                kind = column["type"]
                where = f"{table}.{column['name']}: {kind!r}"
                assert not isinstance(kind, sa_types.NullType | sa_types.ARRAY), where
                # duckdb-engine maps HUGEINT to its own HugeInteger, which JDBC and ODBC do not know.
                assert "huge" not in type(kind).__name__.lower(), where
                if column["comment"]:
                    assert not MARKDOWN.search(column["comment"]), where
    engine.dispose()


def test_every_parquet_file_reads_with_plain_arrow_types(published: Path) -> None:
    parquet = sorted((published.parent / "parquet").glob("*.parquet"))
    assert len(parquet) > 40
    for path in parquet:
        for field in pq.read_schema(path):
            kind = field.type
            readable = (
                pa.types.is_boolean(kind)
                or pa.types.is_integer(kind)
                or pa.types.is_floating(kind)
                or (pa.types.is_decimal(kind) and kind.precision <= 38)
                or pa.types.is_string(kind)
                or pa.types.is_date(kind)
                or pa.types.is_timestamp(kind)
            )
            assert readable, f"{path.name}.{field.name}: {kind}"


def test_every_code_a_vocabulary_names_has_a_label_beside_it(published: Path) -> None:
    """``payment_method`` = ``especes`` comes with ``payment_method_label`` = "Cash", in every
    published table that shows the code; a code the seed lacks is labelled with itself."""
    vocabularies = {m.name: m.vocabulary for m in marts_from_manifest(ensure_manifest()) if m.vocabulary}
    named = {column: seed for seed, v in vocabularies.items() for column in v.columns}
    con = duckdb.connect(str(published), read_only=True)
    try:
        columns = con.execute(
            "select table_name, column_name from duckdb_columns() where table_name not in "
            f"({', '.join(repr(v) for v in vocabularies)})"
        ).fetchall()
        present = set(columns)
        checked = set()
        for table, column in columns:
            if column not in named:
                continue
            assert (table, f"{column}_label") in present, (table, column)
            unlabelled = con.execute(
                f'select count(*) from "{table}" where "{column}" is not null and "{column}_label" is null'
            ).fetchall()[0][0]
            assert unlabelled == 0, (table, column)
            checked.add(column)
        english = dict(con.execute("select payment_method, label from payment_methods").fetchall())
        shown = con.execute("select distinct payment_method, payment_method_label from fct_orders").fetchall()
    finally:
        con.close()
    assert {"channel", "touchpoint", "payment_method", "order_type", "theme", "loyalty_tier"} <= checked
    assert all(label == english.get(code, code) for code, label in shown if code is not None)
