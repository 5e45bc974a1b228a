"""Writes of the SLA app: calendars, contracts, versions, sign-off and SLA clocks."""

from collections.abc import Iterable, Sequence
from datetime import datetime


def clocks_open(*, mql_events: Sequence) -> list:
    """SEAM (issue 5 owner replaces): open one clock per applicable time-based commitment of the
    version in force at each event's qualified_at; close at once those already satisfied."""
    return []


def clocks_sync(*, lead_ids: Iterable[int], now: datetime | None = None) -> int:
    """SEAM (issue 5 owner replaces): set met_at/state of the leads' clocks from stored touches and
    dispositions (facts may arrive late or out of order). Returns how many clocks changed."""
    return 0
