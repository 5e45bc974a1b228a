"""Small display helpers of the queue, the lead panel and the feedback page."""

import functools
from decimal import Decimal
from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, get_script_prefix, reverse

from apps.dispositions.countdown import GREEN, RED, YELLOW

register = template.Library()

# Colour is never the only signal: each state also has its own symbol and word.
STATE_SYMBOLS = {GREEN: "●", YELLOW: "▲", RED: "■"}
GRADE_COLOURS = {"A": "green", "B": "green", "C": "yellow", "D": "grey"}


# A queue page has a few hundred row links; reversing each costs ~1 ms, formatting one
# reversed pattern per name costs nothing.
_PK_MARKER = "987654321"


@functools.cache
def _pk_pattern(name: str, script_prefix: str) -> str | None:
    try:
        return reverse(name, kwargs={"pk": int(_PK_MARKER)})
    except NoReverseMatch:
        return None


@register.simple_tag
def pk_url(name: str, pk) -> str:
    """`{% url name pk=pk %}` for the many rows of a list, reversed once per name."""
    pattern = _pk_pattern(name, get_script_prefix())
    if pattern is None:
        raise NoReverseMatch(name)
    return pattern.replace(_PK_MARKER, str(pk))


@register.simple_tag
def lead_url(lead) -> str:
    """The lead detail page, or "" while the leads app has none."""
    pattern = _pk_pattern("leads:lead_detail", get_script_prefix())
    return pattern.replace(_PK_MARKER, str(lead.pk)) if pattern else ""


@register.filter
def state_symbol(state: str) -> str:
    return STATE_SYMBOLS.get(state, "○")


@register.filter
def grade_colour(grade: str) -> str:
    return GRADE_COLOURS.get(grade or "", "grey")


@register.filter
def percent(value) -> str:
    """0.253 -> "25 %"; None or anything not a number (nothing to divide, a missing row) -> "—"."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return "—"
    return f"{round(value * 100)} %"


@register.filter
def dict_get(mapping, key):
    return (mapping or {}).get(key)


@register.simple_tag
def behind_query(period_query: dict, **filters) -> str:
    """The feedback page's query string for the dispositions behind a number (None = any)."""
    query = dict(period_query)
    query.update({name: value for name, value in filters.items() if value is not None})
    return "?" + urlencode(query)


@register.filter
def urlencode_dict(query: dict) -> str:
    return urlencode(query or {})


@register.filter
def ago(moment, now) -> str:
    """Compact age for dense rows: "45m", "5h", "3d", "6w" (the largest unit only)."""
    if not moment or not now:
        return ""
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "now"
    for size, unit in ((60 * 24 * 7, "w"), (60 * 24, "d"), (60, "h")):
        if minutes >= size * (2 if unit == "w" else 1):
            return f"{minutes // size}{unit}"
    return f"{minutes}m"
