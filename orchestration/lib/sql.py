"""Quoting values into SQL text, for the few statements DuckDB cannot take as parameters (ATTACH,
COPY … TO, COMMENT ON, a constant inside a generated condition)."""


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
