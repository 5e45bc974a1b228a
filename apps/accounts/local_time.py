"""Form fields for times typed by people: shown and read in the organization's zone, named.

The zone is the one `apps.sla.middleware` activates for the request, so what a field
shows is what it reads back: opening a form and saving it unchanged changes nothing.
Next to each input the zone is written out ("America/New York, EST"), so nobody has
to guess whose 9:00 it is.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.html import format_html

INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def zone_label(zone_name: str | None = None, *, at: datetime | None = None) -> str:
    """ "America/New York (EST)": the zone's name and its abbreviation at ``at`` (now)."""
    zone = timezone.get_current_timezone() if zone_name is None else ZoneInfo(zone_name)
    name = zone_name or timezone.get_current_timezone_name()
    abbreviation = timezone.localtime(at or timezone.now(), zone).strftime("%Z")
    readable = name.replace("_", " ")
    if abbreviation and abbreviation != name and not abbreviation.startswith(("+", "-")):
        return f"{readable} ({abbreviation})"
    return readable


def _aware(value) -> datetime | None:
    """The instant a widget shows (naive: a wall time in the current zone), for its zone's
    abbreviation (EST or EDT); None when it is not one."""
    if not isinstance(value, datetime):
        return None
    if timezone.is_aware(value):
        return value
    try:
        return timezone.make_aware(value)
    except ValueError:  # a wall time that does not exist in the zone (skipped at a DST change)
        return None


class LocalDateTimeInput(forms.DateTimeInput):
    """A datetime-local input followed by the name of the zone it is in."""

    input_type = "datetime-local"

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs, format=INPUT_FORMAT)

    def render(self, name, value, attrs=None, renderer=None):
        field = super().render(name, value, attrs, renderer)
        return format_html(
            '<span class="zoned-input">{}<span class="zone-name" data-zone="{}">{}</span></span>',
            field,
            timezone.get_current_timezone_name(),
            zone_label(at=_aware(value)),
        )


class LocalDateTimeField(forms.DateTimeField):
    """A date and time in the organization's zone (Django reads naive input in the current
    zone, which the middleware sets); ambiguous or skipped wall times at a DST change are
    refused with a message."""

    widget = LocalDateTimeInput

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("input_formats", [INPUT_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"])
        super().__init__(**kwargs)
