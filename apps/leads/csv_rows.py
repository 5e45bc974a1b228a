"""Reading lead CSV files: encoding, delimiter, headers, line numbers, dates, one row at a time.

Pure module: no ORM. A bad row never stops the good ones: every problem is
reported against the row's line number (line 1 is the header; a quoted value
spanning lines is reported at the line where its row starts).

Encodings: a file that is not valid UTF-8 anywhere it has non-ASCII text, and whose
non-ASCII bytes read as Windows-1252 give accented letters inside words or typographic
punctuation, is a Windows (Excel) export and is read as Windows-1252. Anything else is
read as UTF-8 and the rows with bytes that are not UTF-8 are rejected individually,
with their line numbers (the importer can still choose another encoding).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from apps.accounts.input_bounds import printable
from apps.leads.field_mapping import DATE_TARGETS, DATE_TIME_TARGETS, apply_mapping

ENCODINGS: dict[str, str] = {
    "utf-8": "UTF-8",
    "cp1252": "Windows-1252 (Excel on Windows)",
    "latin-1": "ISO-8859-1 (Latin-1)",
    "utf-16": "UTF-16",
}
DELIMITERS = ",;\t|"
_BAD_BYTE = range(0xDC80, 0xDD00)  # how surrogateescape marks bytes it could not decode

# Common spreadsheet layouts, by the date order the importer chose.
_DATE_FORMATS = {
    "mdy": ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y"),
    "dmy": ("%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%d-%m-%Y"),
    "iso": ("%Y/%m/%d",),
}
_TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")


@dataclass(frozen=True)
class CsvRow:
    line: int
    cells: dict[str, str]
    # A problem with the row itself (encoding, number of values); None when readable.
    problem: str | None = None


def detect_encoding(content: bytes) -> str:
    """The encoding to read an upload with: UTF-8 unless nothing non-ASCII in it is UTF-8."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    for line in content.splitlines():
        if max(line, default=0) < 0x80:
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            if not _reads_as_windows_text(line):
                return "utf-8"  # broken bytes, not another encoding: reject those rows
            continue
        return "utf-8"  # some rows are real UTF-8: the broken ones are just broken
    return "cp1252"


# Typographic characters Windows-1252 puts in 0x80–0xBF that real text uses.
_WINDOWS_PUNCTUATION = frozenset("€‚„…†‡‰‹›‘’“”•–—™¡¢£¤¥§¨©«¬®°±²³´µ¶·¸¹º»¼½¾¿ ")
# Letters real Windows-1252 text uses; þ ð ÿ and friends are far likelier broken bytes.
_WINDOWS_LETTERS = frozenset("ŠŒŽšœžŸÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüý")


def _reads_as_windows_text(line: bytes) -> bool:
    """Whether a line's non-ASCII bytes, read as Windows-1252, look like text: accented
    letters next to another letter (inside a word) or typographic punctuation."""
    try:
        text = line.decode("cp1252")
    except UnicodeDecodeError:
        return False  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are not characters in Windows-1252
    for position, ch in enumerate(text):
        if ord(ch) < 0x80 or ch in _WINDOWS_PUNCTUATION:
            continue
        if ch not in _WINDOWS_LETTERS:
            return False
        before = text[position - 1] if position else ""
        after = text[position + 1] if position + 1 < len(text) else ""
        if not (before.isalpha() or after.isalpha()):
            return False
    return True


def decode(content: bytes, encoding: str) -> str:
    """The file as text; undecodable bytes are kept as markers so their rows can be rejected."""
    if encoding == "utf-8":
        return content.decode("utf-8-sig", errors="surrogateescape")
    if encoding == "utf-16":
        return content.decode("utf-16", errors="surrogateescape")
    return content.decode(encoding, errors="surrogateescape")


def _has_bad_bytes(text: str) -> bool:
    return any(ord(ch) in _BAD_BYTE for ch in text)


def detect_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def unique_headers(raw: list[str]) -> list[str]:
    """Header names made unique and non-empty ("Email", "Email (2)", "Column 5")."""
    headers, seen = [], {}
    for position, name in enumerate(raw, start=1):
        # A header is stored and shown: a NUL or an undecodable byte becomes U+FFFD.
        name = " ".join(printable(name or "").split()) or f"Column {position}"
        seen[name] = seen.get(name, 0) + 1
        headers.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return headers


def read_rows(text: str, delimiter: str) -> tuple[list[str], Iterator[CsvRow]]:
    """The headers and an iterator over the data rows (blank lines skipped)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = unique_headers(next(reader))
    except StopIteration:
        return [], iter(())
    except csv.Error:
        return [], iter(())

    def rows() -> Iterator[CsvRow]:
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield CsvRow(start, {}, f"Unreadable CSV: {exc}.")
                start = reader.line_num + 1
                continue
            line, start = start, reader.line_num + 1
            if not values or all(not v.strip() for v in values):
                continue
            problem = None
            if any(_has_bad_bytes(v) for v in values):
                problem = (
                    "Contains bytes that are not valid text in the file's encoding; "
                    "re-save the file as UTF-8 or choose its encoding."
                )
            elif len(values) != len(headers):
                problem = (
                    f"Has {len(values)} values but the header has {len(headers)} columns "
                    "(a missing or extra delimiter, or an unclosed quote?)."
                )
            yield CsvRow(line, dict(zip(headers, values, strict=False)), problem)

    return headers, rows()


def parse_cell_moment(value: str, *, date_order: str, tz: tzinfo) -> datetime | None:
    """A moment from a spreadsheet cell: ISO 8601 always, else the chosen day/month order.

    Values without an offset are read in `tz` (the importer's choice for the file).
    """
    text = value.strip()
    moment = None
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        for day_format in _DATE_FORMATS.get(date_order, ()) + _DATE_FORMATS["iso"]:
            for suffix in _TIME_SUFFIXES:
                try:
                    moment = datetime.strptime(text, day_format + suffix)  # noqa: DTZ007 - made aware below
                except ValueError:
                    continue
                break
            if moment is not None:
                break
    if moment is None:
        day = parse_cell_date(text, date_order=date_order)
        moment = datetime(day.year, day.month, day.day) if day else None  # noqa: DTZ001 - made aware below
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def parse_cell_date(value: str, *, date_order: str) -> date | None:
    text = value.strip()
    try:
        day = parse_date(text)
    except ValueError:
        day = None
    if day is not None:
        return day
    for day_format in _DATE_FORMATS.get(date_order, ()) + _DATE_FORMATS["iso"]:
        try:
            return datetime.strptime(text, day_format).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    return moment.date() if moment else None


_DATE_HINT = {
    "iso": "2025-03-31 or 2025-03-31T14:05:00+02:00",
    "mdy": "03/31/2025 or 03/31/2025 2:05 PM",
    "dmy": "31/03/2025 or 31.03.2025 14:05",
}


def row_item(
    cells: Mapping[str, str], mapping: Mapping[str, str], *, date_order: str, tz: tzinfo
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A lead item from one CSV row through the column mapping; dates parsed, or field errors."""
    item, _unmapped = apply_mapping(cells, mapping)
    errors: dict[str, list[str]] = {}
    for target in DATE_TIME_TARGETS & item.keys():
        moment = parse_cell_moment(str(item[target]), date_order=date_order, tz=tz)
        if moment is None:
            errors[target] = [
                f"“{item[target]}” is not a date; expected e.g. {_DATE_HINT.get(date_order, _DATE_HINT['iso'])}."
            ]
        else:
            item[target] = moment
    for target in DATE_TARGETS & item.keys():
        day = parse_cell_date(str(item[target]), date_order=date_order)
        if day is None:
            errors[target] = [
                f"“{item[target]}” is not a date; expected e.g. {_DATE_HINT.get(date_order, _DATE_HINT['iso'])}."
            ]
        else:
            item[target] = day
    return item, errors
