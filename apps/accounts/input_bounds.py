"""What inbound text, dates and JSON documents may look like before anything stores them.

Pure module: no ORM, no request, no settings. Every channel (API bodies and query
parameters, webhooks, CSV rows, forms) asks these questions, so one rule holds
everywhere and a bad value is refused with a message instead of failing in the database.

Decisions:
- Text must not hold a NUL character (PostgreSQL text and jsonb cannot store it) nor a
  lone UTF-16 surrogate such as "\\ud800" (it has no UTF-8 encoding), in keys or values.
- Dates and moments must lie in years 1900–2999 (UTC for moments). Python's datetime
  stops at year 1 and 9999, so an offset or a day's arithmetic at the edges overflows;
  no lead, activity or period of this product lies outside that range. Filters clamp to
  the range instead (an open-ended "to 9999-12-31" means "no upper bound").
- JSON documents nest at most MAX_JSON_DEPTH levels: deeper ones are refused before any
  recursive code (serializers, the database driver) walks them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)
EARLIEST_MOMENT = datetime.combine(EARLIEST_DATE, time.min, tzinfo=UTC)
LATEST_MOMENT = datetime.combine(LATEST_DATE, time.max, tzinfo=UTC)
MAX_JSON_DEPTH = 32

NUL_MESSAGE = "Contains a NUL character (\\u0000), which text cannot hold."
SURROGATE_MESSAGE = "Contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid text."
DATE_RANGE_MESSAGE = f"Must lie between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."
DEPTH_MESSAGE = f"JSON nested deeper than {MAX_JSON_DEPTH} levels."


class JsonDocumentError(ValueError):
    """A body that is not an acceptable JSON document; the message says why."""


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return NUL_MESSAGE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def _strings(value: Any) -> Iterator[str]:
    """Every key and string value inside a parsed JSON value (iteratively: depth is bounded
    by the parser, but walking must not depend on it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    yield key
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)


def nested_text_problem(value: Any) -> str | None:
    """The first reason any key or string inside `value` cannot be stored, or None."""
    for text in _strings(value):
        problem = text_problem(text)
        if problem:
            return problem
    return None


def text_problems_by_key(item: Any) -> dict[str, list[str]]:
    """For one inbound object: {key: [reason]} for each top-level key whose key or value
    holds text that cannot be stored (the shape of a field error)."""
    if not isinstance(item, dict):
        return {}
    errors: dict[str, list[str]] = {}
    for key, child in item.items():
        problem = nested_text_problem(key) or nested_text_problem(child)
        if problem:
            name = key if isinstance(key, str) and not text_problem(key) else "non_field_errors"
            errors.setdefault(name, []).append(problem)
    return errors


def is_date_in_range(day: date) -> bool:
    """Whether a calendar date lies in the supported years."""
    return EARLIEST_DATE <= day <= LATEST_DATE


def is_moment_in_range(moment: datetime) -> bool:
    """Whether an aware moment lies in the supported years (naive ones are read as UTC).

    Never raises: converting 0001-01-01T00:00+14:00 to UTC overflows, which is itself
    the answer "out of range"."""
    try:
        utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        return False
    return EARLIEST_MOMENT <= utc <= LATEST_MOMENT


def date_clamped(day: date) -> date:
    """A filter's date brought into the supported years (the result set is the same)."""
    return min(max(day, EARLIEST_DATE), LATEST_DATE)


def moment_clamped(moment: datetime) -> datetime:
    """A filter's moment brought into the supported years (aware, UTC at the edges)."""
    return moment if is_moment_in_range(moment) else _edge(moment)


def _edge(moment: datetime) -> datetime:
    # Out of range means before 1900 or after 2999 in UTC; the naive year tells which.
    return EARLIEST_MOMENT if moment.year < 2000 else LATEST_MOMENT


def json_depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (a scalar is 0, [] and {} are 1)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def json_document_parse(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON document from a request body: strict UTF-8, standard JSON, bounded depth.

    Raises JsonDocumentError with a message for the client.
    """
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonDocumentError(
                f"The body is not valid UTF-8 (byte {exc.start}): send JSON encoded as UTF-8."
            ) from exc
    else:
        text = body
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        # The C decoder counts its nesting against the interpreter's recursion limit and
        # stops cleanly (a few hundred levels in), so 100,000 levels cost nothing.
        raise JsonDocumentError(DEPTH_MESSAGE) from exc
    except ValueError as exc:
        raise JsonDocumentError(f"Malformed JSON: {exc}") from exc
    if json_depth(value) > max_depth:
        raise JsonDocumentError(DEPTH_MESSAGE)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def printable(value: Any) -> Any:
    """A copy of a report value (text, or lists and dicts of it) that can be stored and shown:
    NUL characters and lone surrogates become U+FFFD. For echoing bad input in a message,
    never for storing the input itself."""
    if isinstance(value, str):
        if text_problem(value) is None:
            return value
        return "".join(
            "\ufffd" if ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value
        )
    if isinstance(value, dict):
        return {printable(key): printable(child) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [printable(child) for child in value]
    return value
