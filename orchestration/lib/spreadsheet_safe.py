"""CSV cells a spreadsheet will not run as formulas (CSV injection, OWASP's advice).

A name or a city delivered as ``=HYPERLINK("http://…","click")`` would reach an exported CSV as is;
opened in Excel or LibreOffice, a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is read as a formula and runs. OWASP's advice, applied to every text cell of every
CSV the product hands to people: prefix such a cell with a single quote and enclose it in double
quotes. The quote makes the spreadsheet show the cell as text (Excel hides the quote, other tools
show it); the value itself is unchanged otherwise.

A phone number in international form is text and starts with ``+``: ``+33612345678`` is written
``"'+33612345678"``. Numbers typed as numbers (a count, a negative amount) carry no text a
customer could have typed, so they are written as they are.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> tuple[str, bool]:
    """The cell's text and whether it must be quoted (it looked like a formula)."""
    if value is None:
        return "", False
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value, True
    return str(value), False


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], delimiter: str = ",") -> str:
    """The whole file: a header, then one line per row, CRLF-ended as RFC 4180 says; a cell is
    quoted when it was neutralised or holds the delimiter, a quote or a line break."""
    out = io.StringIO()
    for row in [header, *rows]:
        cells = []
        for value in row:
            text, forced = neutralise(value)
            if forced or any(c in text for c in (delimiter, '"', "\n", "\r")):
                text = '"' + text.replace('"', '""') + '"'
            cells.append(text)
        out.write(delimiter.join(cells) + "\r\n")
    return out.getvalue()
