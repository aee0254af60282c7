"""The two text formats an export arrives in, read by DuckDB into rows of text with their lines.

- CSV (``write_csv``): one read when every record is one line, which the counts prove; otherwise
  the exact path: the lines split (``_read_lines``), grouped into records by quote parity
  (``_split_records``) and aligned with the reader's rows (``_parse_csv``).
- NDJSON (``write_ndjson``): the lines read once; one pass lists the keys and counts the records,
  one parses, types and writes each line.

A file's columns are matched to the export's by name, alias or spelling (``match_columns``); the
rows are typed by ``casting``; ``Write`` sends the good ones to ``raw.<table>`` and the others to
``raw.quarantine_rows``, inside the loader's transaction. A file that cannot be read at all raises
``FileRejected``, and the loader quarantines it whole.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from orchestration.exports.spec import CsvFormat, ExportTable
from orchestration.ingest.casting import RowRules, typed_select
from orchestration.ingest.files import FileFingerprint
from orchestration.lib.sql import identifier, literal

# Longest line the line splitter accepts (DuckDB's CSV reader stops at 2 MB by default).
MAX_LINE_BYTES = 2**30
_NEW_LINE = {"\n": "\\n", "\r\n": "\\r\\n"}


class FileRejected(Exception):
    """The whole file cannot be loaded; the message says why, for people."""


@dataclass
class Write:
    """Writes one file's typed rows inside its transaction: good rows to ``raw.<table>``, the
    others to ``raw.quarantine_rows``; each call is one pass over the file or the temp tables."""

    con: duckdb.DuckDBPyConnection
    spec: ExportTable
    fp: FileFingerprint
    rel: str
    now: datetime
    run_id: str
    rules: RowRules = field(default_factory=RowRules)

    def good(self, typed: str, params: list) -> int:
        names = [c.name for c in self.spec.columns] + [
            c.delivered_column for c in self.spec.delivered_columns
        ]
        select_cols = ", ".join(f'"{n}"' for n in names)
        return self.con.execute(
            f"""
            insert into raw.{self.spec.table} by name
            select {select_cols}, ? as _source_file, _line as _source_line, ? as _file_sha256,
                   ? as _loaded_at, _extra_columns
            from ({typed}) where not _blank and not _bad
            """,
            [self.rel, self.fp.sha256, self.now, *params],  # in the order of the ? in the text
        ).fetchall()[0][0]

    def bad(self, typed: str, params: list, raw_from_lines: bool = False) -> int:
        """Quarantined rows; ``raw_from_lines``: their raw text is the line of ``_lines``."""
        raw_text = "coalesce(t._raw_text, l.line)" if raw_from_lines else "t._raw_text"
        join = "left join _lines l on l.line_number = t._line" if raw_from_lines else ""
        return self.con.execute(
            f"""
            insert into raw.quarantine_rows
            select ?, ?, ?, t._line, {raw_text}, t._error, ?, ?
            from (select * from ({typed}) where _bad) t {join}
            """,
            [self.spec.table, self.rel, self.fp.sha256, self.now, self.run_id, *params],
        ).fetchall()[0][0]


def column_key(name: str) -> str:
    """A column name reduced to letters and digits, without accents: ``E-mail`` -> ``email``."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def match_columns(names: list[str], spec: ExportTable) -> dict[str, str | None]:
    """Map a file's column names onto the export's columns (``None``: not in the export).

    A file's column is an export column when its name is the column's name or one of its aliases
    (from the mapping file), case-insensitively; failing that, when it differs only by accents,
    spaces or punctuation (``e-mail``, ``Date of birth``) from exactly one column's name or alias
    that the file does not carry under its own name.
    """
    exact_names = {n.lower(): c.name for c in spec.columns for n in (c.name, *c.aliases)}
    exact = {n: exact_names[n.lower()] for n in names if n.lower() in exact_names}
    by_key: dict[str, set[str]] = {}
    for column in spec.columns:
        for name in (column.name, *column.aliases):
            by_key.setdefault(column_key(name), set()).add(column.name)
    mapping: dict[str, str | None] = {}
    taken = set(exact.values())
    for n in names:
        if n in exact:
            mapping[n] = exact[n]
            continue
        candidates = sorted(c for c in by_key.get(column_key(n), set()) if c not in taken)
        mapping[n] = candidates[0] if len(candidates) == 1 else None
        if mapping[n]:
            taken.add(candidates[0])
    return mapping


COMMON_DELIMITERS = (",", ";", "\t", "|")


def _check_required(spec: ExportTable, mapping: dict[str, str | None], first_line: str | None = None) -> None:
    """Reject a file without the export's required columns; ``first_line`` (a CSV file's header
    as delivered) is split on the other common delimiters to say when the file looks delimited by
    one of them, which "missing required columns" alone leaves a person to guess."""
    present = {c for c in mapping.values() if c}
    missing_required = [c for c in spec.required if c not in present]
    if missing_required:
        found = ", ".join(sorted(mapping)) or "none"
        reason = f"missing required column(s) {', '.join(missing_required)} (found: {found})"
        if first_line is not None and isinstance(spec.format, CsvFormat):
            reason += _delimiter_hint(spec, first_line)
        raise FileRejected(reason)


def _delimiter_hint(spec: ExportTable, first_line: str) -> str:
    """``; the header splits on ',' into the expected columns: ...`` when another delimiter finds
    every required column, else ''."""
    assert isinstance(spec.format, CsvFormat)
    expected = spec.format.delimiter
    names = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}
    for other in COMMON_DELIMITERS:
        if other == expected or other not in first_line:
            continue
        header = next(csv.reader([first_line], delimiter=other), [])
        mapping = match_columns([h.strip().lower() for h in header], spec)
        if all(c in set(mapping.values()) for c in spec.required):
            shown = "\\t" if other == "\t" else other
            return (
                f"; the header splits on '{shown}' into the expected columns: this file looks "
                f"{names[other]}-delimited; the spec expects '{expected}'"
            )
    return ""


def may_be_truncated(spec: ExportTable, fp: FileFingerprint) -> bool:
    """A CSV file that stops without a line break may have been cut mid-record: its last record
    cannot be told from a complete one (``12,5`` for ``12,50``), so it is quarantined."""
    return spec.format.kind == "csv" and not fp.ends_with_newline and fp.size > 0


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


def _lines_source(fp: FileFingerprint) -> str:
    """DuckDB's CSV reader used as a line splitter (one parameter: the path).

    One column, no quoting, a delimiter the text does not contain (``fp.plain_lines``), the file's
    one line break: every physical line is one row, a blank line a NULL row, in file order. It
    streams and reads in parallel, where ``read_text`` holds the whole file as one value (gigabytes
    for the web events at 1M customers). DuckDB drops a UTF-8 byte-order mark. Not strict: with
    CRLF and quote characters in the text, the strict reader returned a few NULL rows instead of
    the lines (DuckDB 2.0.1).
    """
    return (
        "read_csv(?, columns = {'line': 'VARCHAR'}, delim = e'\\x01', quote = '', escape = '', "
        f"header = false, auto_detect = false, new_line = '{_NEW_LINE[fp.line_break]}', "
        f"strict_mode = false, max_line_size = {MAX_LINE_BYTES})"
    )


def _read_lines(con: duckdb.DuckDBPyConnection, fp: FileFingerprint) -> None:
    """Temp table ``_lines(line_number, line)``: every physical line, blank ones as ''."""
    if fp.plain_lines:
        # Numbered by row_number() over (), which keeps the reader's order; not by rowid, which
        # inside a transaction starts far from 0.
        con.execute(
            "create or replace temp table _lines as select row_number() over () as line_number, "
            f"coalesce(line, '') as line from {_lines_source(fp)}",
            [str(fp.readable_path)],
        )
        return
    # U+0001 in the text: split the whole text in memory instead (rare, and slower on large files).
    con.execute(
        """
        create or replace temp table _lines as
        with parts as (select string_split(content, chr(10)) as lines from read_text(?)),
        physical as (
            select unnest(range(1, len(lines) + 1)) as line_number, unnest(lines) as line from parts
        )
        select line_number,
               case when line_number = 1 then ltrim(rtrim(line, chr(13)), chr(65279))
                    else rtrim(line, chr(13)) end as line
        from physical
        """,
        [str(fp.readable_path)],
    )
    if fp.size and fp.ends_with_newline:  # the empty string after the last line break
        con.execute("delete from _lines where line_number = (select max(line_number) from _lines)")


def _split_records(con: duckdb.DuckDBPyConnection, fp: FileFingerprint, quoted: bool) -> None:
    """Build temp table ``_records(record_no, record_group, line_number, raw_text)`` from ``_lines``.

    With CSV, a line continues the previous record while an odd number of quote characters has
    been seen (RFC 4180 quoting). Blank lines between records are not records (DuckDB's reader
    skips them too) but keep their own ``record_group``, which then equals the ``line`` DuckDB
    reports for a rejected row (DuckDB counts a blank line or a whole multi-line record as one
    "line"). The header is record 0. When no line has an odd number of quotes, every line is a
    record and the grouping, which needs two window passes, is skipped.
    """
    _read_lines(con, fp)
    odd_quotes = "(length(line) - length(replace(line, '\"', ''))) % 2 = 1"
    multiline = (
        quoted and con.execute(f"select coalesce(bool_or({odd_quotes}), false) from _lines").fetchall()[0][0]
    )
    if not multiline:
        header = "or line_number = 1" if quoted else ""
        con.execute(
            f"""
            create or replace temp table _records as
            select row_number() over (order by line_number) - 1 as record_no,
                   line_number as record_group, line_number, line as raw_text
            from _lines
            where trim(line) <> '' {header}
            """
        )
        return
    con.execute(
        f"""
        create or replace temp table _records as
        with scanned as (
            select line_number, line,
                   coalesce(sum(case when {odd_quotes} then 1 else 0 end) over w_before, 0) as odd_before
            from _lines
            window w_before as (order by line_number rows between unbounded preceding and 1 preceding)
        ),
        grouped as (
            select *, sum(case when odd_before % 2 = 0 then 1 else 0 end)
                over (order by line_number) as record_group
            from scanned
        ),
        records as (
            select record_group, min(line_number) as line_number,
                   string_agg(line, chr(10) order by line_number) as raw_text
            from grouped
            group by record_group
        )
        select row_number() over (order by line_number) - 1 as record_no, record_group, line_number,
               raw_text
        from records
        where trim(raw_text) <> '' or record_group = 1
        """
    )


def _csv_header(fp: FileFingerprint, delimiter: str) -> tuple[list[str], bool, str]:
    """The file's column names (lowercased) from its first line, whether that line is the
    whole header (``False``: a quoted name spans lines, read by the exact path), and the line."""
    with fp.readable_path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline().rstrip("\r\n")
    header = next(csv.reader([first.lstrip("\ufeff")], delimiter=delimiter), [])
    names = [h.strip().lower() for h in header]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or "" in names:
        raise FileRejected(f"header has duplicate or empty column names: {duplicates or ['<empty>']}")
    return names, first.count('"') % 2 == 0, first.lstrip("\ufeff")


def _read_csv_sql(fmt: CsvFormat, names: list[str], parallel: bool) -> str:
    """DuckDB's CSV reader on the file (one parameter: the path), every column as text, rejects kept."""
    columns = "{" + ", ".join(f"{literal(n)}: 'VARCHAR'" for n in names) + "}"
    return f"""read_csv(
        ?, delim = {literal(fmt.delimiter)}, quote = '"', escape = '"', header = true,
        columns = {columns}, auto_detect = false, strict_mode = true,
        store_rejects = true, rejects_table = '_rejects', rejects_scan = '_reject_scans',
        parallel = {str(parallel).lower()}
    )"""


def write_csv(write: Write) -> tuple[dict[str, str | None], int, int, int]:
    """Load a CSV file: in one read when every record is one line, else exactly.

    The one read: DuckDB's reader parses the file, ``row_number() over ()`` numbers its rows in
    file order (DuckDB preserves the order of one table function's rows through an empty
    ``over ()``), and the rows are typed and inserted in the same statement, record i as line
    i + 1. That numbering holds when each record is one line, which the counts prove: a record
    spans at least one line and a blank line yields no row, so when the reader rejected nothing and
    the rows written are as many as the file's physical lines after the header (counted while
    decoding it), every row was one line. When fewer rows were good, the reader's rows are
    counted, and if they are as many as the lines a last pass quarantines the others (their raw
    text from the lines, read then). When the count does not match
    (multi-line quoted values, blank lines, rejected rows) the writes are rolled back and the file
    takes the exact path: lines split, grouped into records by quote parity and aligned with the
    reader's rows (``_parse_csv``).
    """
    con, spec, fp = write.con, write.spec, write.fp
    fmt = spec.format
    assert isinstance(fmt, CsvFormat)
    if fp.size == 0:
        raise FileRejected("empty file: no header row")
    names, one_line_header, first_line = _csv_header(fp, fmt.delimiter)
    mapping = match_columns(names, spec)
    _check_required(spec, mapping, first_line)
    truncated = may_be_truncated(spec, fp)
    if one_line_header:
        con.execute("drop table if exists _rejects; drop table if exists _reject_scans")
        selected = ", ".join(f"{identifier(n)} as {identifier(mapping[n] or n)}" for n in names)
        source = (
            f"(select row_number() over () + 1 as _line, {selected}, null::varchar as _raw_text, "
            f"null::varchar as _parse_error, false as _blank from {_read_csv_sql(fmt, names, parallel=True)})"
        )
        truncated_line = f"p._line = {fp.lines}" if truncated else None
        typed = typed_select(spec, mapping, source, truncated_line, write.rules)
        params = [str(fp.readable_path)]
        records = fp.lines - 1
        loaded = write.good(typed, params)
        if loaded == records:  # as many rows as lines, each a record of at least one line
            return mapping, records, loaded, 0
        # Fewer good rows than lines: rows that did not type, or records that are not one line
        # each. Counting the reader's rows (it only finds record boundaries) tells which.
        parsed = con.execute(f"select count(*) from {_read_csv_sql(fmt, names, parallel=True)}", params)
        if parsed.fetchall()[0][0] == records and not _count(con, "select count(*) from _rejects"):
            _read_lines(con, fp)
            return mapping, records, loaded, write.bad(typed, params, raw_from_lines=True)
        con.execute("rollback")  # not one line per record: start again on the exact path
        con.execute("begin transaction")
    _split_records(con, fp, quoted=True)
    _parse_csv(con, spec, fp, names, mapping)
    source = (
        "(select r.line_number as _line, r.raw_text as _raw_text, false as _blank, p.* "
        "from _parsed p join _records r using (record_no))"
    )
    truncated_sql = "p.record_no = (select max(record_no) from _records)" if truncated else None
    typed = typed_select(spec, mapping, source, truncated_sql, write.rules)
    records = _count(con, "select count(*) from _records") - 1
    return mapping, records, write.good(typed, []), write.bad(typed, [])


def _parse_csv(
    con: duckdb.DuckDBPyConnection,
    spec: ExportTable,
    fp: FileFingerprint,
    names: list[str],
    mapping: dict[str, str | None],
) -> None:
    """The exact path: DuckDB's CSV reader aligned with ``_records`` into temp table
    ``_parsed(record_no, <columns>, _parse_error)``, matched columns named as the export names them.
    """
    fmt = spec.format
    assert isinstance(fmt, CsvFormat)
    con.execute("drop table if exists _rejects; drop table if exists _reject_scans")
    con.execute(
        "create or replace temp table _csv as select row_number() over () - 1 as _ordinal, * "
        f"from {_read_csv_sql(fmt, names, parallel=False)}",
        [str(fp.readable_path)],
    )
    # Align parsed rows with records: rejected records are identified by DuckDB's record counter,
    # the remaining records map one-to-one, in file order, to the parsed rows (insertion order).
    con.execute(
        """
        create or replace temp table _rejected as
        select r.record_no, string_agg(distinct e.error_type || ': ' || e.error_message, ' | ')
            as parse_error
        from _rejects e join _records r on r.record_group = e.line
        group by r.record_no
        """
    )
    unmatched = con.execute(
        "select count(distinct line) from _rejects where line not in "
        "(select record_group from _records where record_no > 0)"
    ).fetchall()[0][0]
    good_records = con.execute(
        "select count(*) from _records where record_no > 0 and record_no not in "
        "(select record_no from _rejected)"
    ).fetchall()[0][0]
    parsed_rows = con.execute("select count(*) from _csv").fetchall()[0][0]
    if unmatched or good_records != parsed_rows:
        raise FileRejected(
            f"could not align records: {parsed_rows} rows parsed, {good_records} expected "
            "(stray quote characters in unquoted fields?)"
        )
    first = identifier(names[0])
    misaligned = con.execute(
        f"""
        with good as (
            select record_no, raw_text, row_number() over (order by record_no) - 1 as ordinal
            from _records
            where record_no > 0 and record_no not in (select record_no from _rejected)
        )
        select count(*) from good g join (select _ordinal as ordinal, * from _csv) c using (ordinal)
        where not (g.raw_text like '"%' or starts_with(g.raw_text, coalesce(c.{first}, '')))
        """
    ).fetchall()[0][0]
    if misaligned:
        raise FileRejected(f"could not align records: {misaligned} rows do not match their line")
    selected = ", ".join(f"c.{identifier(n)} as {identifier(mapping[n] or n)}" for n in names)
    null_cols = ", ".join(f"null::varchar as {identifier(mapping[n] or n)}" for n in names)
    con.execute(
        f"""
        create or replace temp table _parsed as
        with good as (
            select record_no, row_number() over (order by record_no) - 1 as ordinal
            from _records
            where record_no > 0 and record_no not in (select record_no from _rejected)
        ),
        csv_rows as (select _ordinal as ordinal, * from _csv)
        select g.record_no, {selected}, null::varchar as _parse_error
        from good g join csv_rows c using (ordinal)
        union all
        select record_no, {null_cols}, parse_error from _rejected
        """
    )


def write_ndjson(write: Write) -> tuple[dict[str, str | None], int, int, int]:
    """Load an NDJSON file, one record per non-blank line: one read of the file, two passes.

    The file is read once into ``_lines``, which must hold as many lines as the decoding pass
    counted. The first pass lists the keys of every object and counts the records, so drift is
    known before typing; the second parses each line once (every wanted key extracted in one
    list-valued call), types it and inserts the good rows; a third runs only when some line is
    quarantined. A line is a JSON object when it starts with ``{`` (after blanks) and parses.
    """
    con, spec, fp = write.con, write.spec, write.fp
    _read_lines(con, fp)
    lines = _count(con, "select count(*) from _lines")
    if lines != fp.lines:
        raise FileRejected(
            f"could not split into lines: DuckDB read {lines}, the decoding pass counted {fp.lines}"
        )
    # Trimming every line costs more than parsing it: only lines that do not start with '{' are.
    shape = (
        "case when starts_with(line, '{') then 'object' when trim(line) = '' then 'blank' "
        "when starts_with(ltrim(line, e' \\t\\r'), '{') then 'object' else 'other' end"
    )
    shapes = con.execute(
        f"""
        select case when _shape = 'object' then try(json_keys(line)) end, _shape = 'blank', count(*)
        from (select line, {shape} as _shape from _lines) group by all
        """
    ).fetchall()
    records = sum(n for _, blank, n in shapes if not blank)
    keys = sorted({k for found, _, _ in shapes for k in found or ()})
    mapping = match_columns(keys, spec)
    _check_required(spec, mapping)
    drift = [k for k in keys if mapping[k] is None]
    by_column = {c: k for k, c in mapping.items() if c}
    wanted = [by_column[c] for c in spec.column_names if c in by_column] + drift
    paths = ", ".join(literal(f'$."{k}"') for k in wanted)
    values = {k: f"v[{i + 1}]" for i, k in enumerate(wanted)}
    extracted = ", ".join(
        f'{values[by_column[c]]} as "{c}"' if c in by_column else f'null::varchar as "{c}"'
        for c in spec.column_names
    )
    drift_cols = "".join(f", {values[k]} as {identifier(k)}" for k in drift)
    # try(): NULL where the line is not valid JSON, which is one parse instead of two.
    extract = (
        f"try(json_extract_string(line, [{paths}]))" if wanted else "case when json_valid(line) then [] end"
    )
    source = f"""(
        select _line, {extracted}{drift_cols}, line as _raw_text, _shape = 'blank' as _blank,
               case when _shape = 'other' or (_shape = 'object' and v is null) then 'not a JSON object' end
                   as _parse_error
        from (select line_number as _line, line, _shape, case when _shape = 'object' then {extract} end as v
              from (select line_number, line, {shape} as _shape from _lines))
    )"""
    typed = typed_select(spec, mapping, source, None, write.rules)
    loaded = write.good(typed, [])
    quarantined = write.bad(typed, []) if loaded < records else 0
    return mapping, records, loaded, quarantined
