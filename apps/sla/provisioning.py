"""Defaults for a new organization: a business calendar, Mon–Fri 09:00–17:00 UTC."""

from apps.sla.services import calendar_default_ensure


def provision() -> None:
    calendar_default_ensure()
