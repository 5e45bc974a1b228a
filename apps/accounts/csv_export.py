"""Every CSV the product writes goes through here, so no cell can run as a spreadsheet formula.

Pure module. Spreadsheets (Excel, LibreOffice, Google Sheets) evaluate a cell that
starts with = + - @ (and, in some, a tab or carriage return followed by one) as a
formula: `=HYPERLINK(…)`, `=cmd|' /C calc'!A0`, `@SUM(1)`. Text cells starting with
one of those characters get a leading apostrophe (OWASP's advice), which spreadsheets
show as plain text. Numbers (int, float, Decimal, and text that is exactly a number such
as "-12.5") are written as they are, so amounts stay numeric.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    """Text that is exactly a number, thousands separators allowed ("-1,234.5")."""
    try:
        return Decimal(text.strip().replace(",", "")).is_finite()
    except InvalidOperation:
        return False


def csv_cell(value: Any) -> str | int | float | Decimal:
    """One cell as written: None empty, moments ISO 8601, formula-looking text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, for streaming responses."""

    def write(self, value: str) -> str:
        return value


class SafeCsvWriter:
    """csv.writer whose every cell passes through csv_cell."""

    def __init__(self, target: Any = None) -> None:
        self._writer = csv.writer(target if target is not None else _Echo())

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header and rows as CSV lines, for a StreamingHttpResponse (memory stays flat)."""
    writer = SafeCsvWriter()
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """The header and rows as one CSV text (an e-mail attachment, a small download)."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
