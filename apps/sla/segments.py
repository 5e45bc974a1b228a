"""Segment filters of tiered commitments ("only source = webinar", "company size ≥ 500").

Pure module. A segment is a list of lead-field conditions, all of which must
hold, in the MQL definition's condition language ({"field", "op", "value"}), so
it is validated, evaluated and described by the same code as fit conditions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apps.mql.rules import (
    DefinitionError,
    FieldCondition,
    describe_field_condition,
    parse_definition,
)

__all__ = ["SegmentError", "describe_segment", "parse_segment", "segment_matches"]


class SegmentError(ValueError):
    """An unusable segment; the message names the condition at fault (segment[0].op: …)."""


def parse_segment(segment: Any) -> tuple[FieldCondition, ...]:
    """The segment's conditions, or SegmentError naming every problem."""
    if segment in (None, [], ()):
        return ()
    if not isinstance(segment, Sequence) or isinstance(segment, str):
        raise SegmentError("segment: must be a list of {field, op, value} conditions")
    for index, item in enumerate(segment):
        if isinstance(item, Mapping) and "conditions" in item:
            raise SegmentError(f"segment[{index}]: groups are not allowed; list plain conditions")
    try:
        definition = parse_definition({"fit": {"match": "all", "conditions": list(segment)}})
    except DefinitionError as error:
        raise SegmentError(
            "; ".join(
                f"{path.replace('fit.conditions', 'segment', 1)}: {message}"
                for path, message in error.errors
            )
        ) from error
    return tuple(c for c in definition.fit.conditions if isinstance(c, FieldCondition))


def segment_matches(conditions: Sequence[FieldCondition], fields: Mapping[str, Any]) -> bool:
    """Whether a lead belongs to the segment (an empty segment holds every lead)."""
    return all(condition.holds(fields) for condition in conditions)


def describe_segment(segment: Any) -> str:
    """ "source is webinar and company size is at least 500", or "" for every lead."""
    parts = [describe_field_condition(c) for c in parse_segment(segment)]
    if not parts:
        return ""
    text = " and ".join(parts)
    return text[:1].lower() + text[1:]
