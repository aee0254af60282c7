"""Quoting values and names into SQL text, for the few statements DuckDB cannot take as parameters
(ATTACH, COPY … TO, COMMENT ON, a constant inside a generated condition, the columns of a file
read by ``read_csv``)."""


def escaped(text: str) -> str:
    """``text`` with its single quotes doubled, for the inside of a string literal being built."""
    return text.replace("'", "''")


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + escaped(text) + "'"


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (a column named by a file, whatever its characters)."""
    return '"' + name.replace('"', '""') + '"'
