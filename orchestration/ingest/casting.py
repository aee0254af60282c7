"""Turning the text of a file's values into the export's types, in SQL, with the reason a row fails.

Every reader (``formats``) hands over the same shape of rows, all values as text; one statement
types them and tells a good row from a bad one, so the rules for a date, a decimal comma or a
required value are written once for CSV and NDJSON alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from orchestration.exports.spec import Column, ExportTable
from orchestration.lib.sql import escaped, identifier, literal
from orchestration.warehouse.raw import SQL_TYPES

NUL_BYTE = "a NUL byte (0x00) in this line: a damaged transfer or a binary field in the export"
TRUNCATED = "possibly truncated: the file ends without a line break, so this last record may be cut short"
# A number written with a decimal comma, thousands optionally grouped by space, dot or NBSP.
DECIMAL_COMMA = r"[+-]?(\d+|\d{1,3}([ .\x{00A0}\x{202F}]\d{3})+)(,\d+)?"


def _value(name: str) -> str:
    """SQL for column ``name`` of ``p`` without surrounding spaces, NULL when empty.

    The same as ``nullif(trim(x), '')`` (DuckDB's ``trim`` removes spaces only), with ``trim``
    called only on values that start or end with a space: on every value it cost more than the
    casts (five required columns of the 100k web events: 1.9 s against 0.25 s).
    """
    x = f"p.{identifier(name)}"
    return (
        f"case when starts_with({x}, ' ') or ends_with({x}, ' ') then nullif(trim({x}), '') "
        f"else nullif({x}, '') end"
    )


def _cast_expr(column: Column, spec: ExportTable) -> str:
    """SQL turning the text value of ``column`` into its declared type (NULL when it does not cast)."""
    fmt = spec.format
    v = _value(column.name)
    match column.type:
        case "varchar":
            return f'p."{column.name}"'
        case "integer":
            return f"try_cast({v} as bigint)"
        case "decimal":
            if fmt.decimal_comma:
                # Only the declared form is read ('1 234,50', '1.234,50'): '12.50', written with a
                # decimal point, would become 1250 once thousands separators are removed.
                cleaned = f"replace(regexp_replace({v}, '[ .\\x{{00A0}}\\x{{202F}}]', '', 'g'), ',', '.')"
                return (
                    f"case when regexp_full_match({v}, '{DECIMAL_COMMA}') "
                    f"then try_cast({cleaned} as decimal(18, 2)) end"
                )
            return f"try_cast({v} as decimal(18, 2))"
        case "date":
            return f"try_strptime({v}, '{fmt.date_format}')::date"
        case "timestamp":
            if fmt.timestamp_format:
                return f"try_strptime({v}, '{fmt.timestamp_format}')"
            return f"try_cast({v} as timestamp)"
        case "timestamptz":
            if fmt.timestamp_format:
                return f"try_strptime({v}, '{fmt.timestamp_format}')::timestamptz"
            return f"try_cast({v} as timestamptz)"
        case "boolean":
            return (
                f"case when lower({v}) in ('true', 't', '1', 'yes', 'y', 'oui', 'o') then true "
                f"when lower({v}) in ('false', 'f', '0', 'no', 'n', 'non') then false end"
            )
    raise ValueError(f"unknown column type {column.type}")


@dataclass(frozen=True)
class RowRules:
    """Per-file row checks beyond the types, set by the loader from the file and the settings.

    ``nul_bytes``: the file holds NUL bytes, so each row is searched for one (only then: the
    search is a pass over every value). ``earliest``: the first plausible date of the source's
    transaction dates (``transaction_columns``); None: not checked.
    """

    nul_bytes: bool = False
    earliest: date | None = None


# The events that make periods in the marts (till tickets, web orders, service tickets, survey
# answers): a date before the source's plausible range is a placeholder (1900-01-01) or a typo,
# not history. Birth dates are a person's attribute with their own handling (keep_as_delivered).
TRANSACTION_TABLES = frozenset({"pos_tickets", "ecommerce_orders", "crm_tickets", "survey_responses"})


def transaction_columns(spec: ExportTable) -> list[Column]:
    """The date and time columns of ``spec`` checked against the source's earliest plausible date."""
    if spec.table not in TRANSACTION_TABLES:
        return []
    return [c for c in spec.columns if c.type in ("date", "timestamp", "timestamptz") and not c.pii]


def typed_select(
    spec: ExportTable,
    columns: dict[str, str | None],
    source: str,
    truncated_sql: str | None,
    rules: RowRules | None = None,
) -> str:
    """SQL typing ``source``'s rows: line number, typed columns, extra columns as JSON, ``_bad``
    with the row's error text when it is bad, ``_blank`` and ``_raw_text``.

    ``source`` has ``_line`` (line number), ``_raw_text`` (may be NULL), ``_blank`` (true: not a
    record), ``_parse_error``, the text columns under the export's names and the drift columns
    under their own. ``truncated_sql``: true on the last record of a file that ends without a line
    break. Each check is a boolean; the error text is built only for rows that fail one (building
    it for every row cost more than the casts).
    """
    present = {c for c in columns.values() if c}
    drift = [h for h, c in columns.items() if c is None]
    typed: list[str] = []
    checks = [("p._parse_error is not null", "p._parse_error")]  # (condition, message)
    if truncated_sql:
        checks.append((truncated_sql, f"'{TRUNCATED}'"))
    rules = rules or RowRules()
    if rules.nul_bytes:  # first: the reason that explains the others (a value cut by the NUL)
        values = ", ".join(f"p.{identifier(c or h)}" for h, c in columns.items()) or "''"
        nul = f"contains(coalesce(p._raw_text, concat_ws('', {values})), chr(0))"
        checks.insert(0, (nul, f"'{NUL_BYTE}'"))
    parsed = "p._parse_error is null"
    earliest = rules.earliest
    checked_dates = {c.name for c in transaction_columns(spec)} if earliest else set()
    for column in spec.columns:
        if column.name not in present:
            typed.append(f'null::{SQL_TYPES[column.type]} as "{column.name}"')
            if column.keep_as_delivered:
                typed.append(f'null::varchar as "{column.delivered_column}"')
            if column.required:
                checks.append(("true", f"'{column.name}: required value missing'"))
            continue
        expr = _cast_expr(column, spec)
        typed.append(f'{expr} as "{column.name}"')
        text = _value(column.name)
        if column.keep_as_delivered:
            typed.append(f'{text} as "{column.delivered_column}"')
        if column.type != "varchar" and not column.keep_as_delivered:
            comma = column.type == "decimal" and spec.format.decimal_comma
            form = " with a decimal comma" if comma else ""
            checks.append(
                (
                    f"{parsed} and {text} is not null and ({expr}) is null",
                    f"'{column.name}: cannot read ''' || left({text}, 40) || ''' as {column.type}{form}'",
                )
            )
        if earliest and column.name in checked_dates:
            before = f"is before {earliest}, the earliest plausible date of {spec.source} transactions"
            checks.append(
                (
                    f"{parsed} and ({expr}) < {literal(earliest.isoformat())}::date",
                    f"'{column.name}: ''' || left({text}, 40) || ''' {before}'",
                )
            )
        if column.values:
            accepted = ", ".join(literal(v.upper()) for v in column.values)
            listed = escaped(", ".join(column.values))
            checks.append(
                (
                    f"{parsed} and upper({text}) not in ({accepted})",
                    f"'{column.name}: ''' || left({text}, 40) || ''' is not one of {listed}'",
                )
            )
        if column.required:
            checks.append((f"{parsed} and {text} is null", f"'{column.name}: required value missing'"))
    extra = (
        "to_json(struct_pack(" + ", ".join(f"{identifier(d)} := p.{identifier(d)}" for d in drift) + "))"
        if drift
        else "null::json"
    )
    bad = " or ".join(f"coalesce({cond}, false)" for cond, _ in checks)
    messages = ", ".join(f"case when {cond} then {message} end" for cond, message in checks)
    return f"""
        select p._line, p._raw_text, p._blank, {", ".join(typed)}, {extra} as _extra_columns,
               not p._blank and ({bad}) as _bad,
               case when not p._blank and ({bad}) then nullif(concat_ws('; ', {messages}), '') end
                   as _error
        from {source} p
    """
