"""Run the hand-off on facts a test stored with factories, as a channel does after storing them."""

from collections.abc import Iterable, Mapping
from datetime import datetime

from apps.handoff.pipeline import HandOff, hand_off
from apps.leads.services import Touched


def hand_off_stored(
    *,
    lead_ids: Iterable[int],
    now: datetime,
    earliest_new_activity: Mapping[int, datetime] | None = None,
    clocks_touched: Iterable[int] = (),
) -> HandOff:
    """The hand-off of a batch that stored facts on `lead_ids` (the earliest new activity per
    lead, when given, lets an older fact re-date an MQL; `clocks_touched` got a sales touch)."""
    return hand_off(
        touched=Touched(
            lead_ids=tuple(lead_ids),
            earliest_new_activity=dict(earliest_new_activity or {}),
            clocks_touched=tuple(clocks_touched),
        ),
        now=now,
    )


def qualify(
    *,
    lead_ids: Iterable[int],
    now: datetime,
    earliest_new_activity: Mapping[int, datetime] | None = None,
) -> list:
    """The new MQL events of that hand-off (each moved its lead to mql, routed, with clocks)."""
    return hand_off_stored(
        lead_ids=lead_ids, now=now, earliest_new_activity=earliest_new_activity
    ).events
