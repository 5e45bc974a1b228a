"""When an SLA clock is met, and its state: the per-lead rules of apps/compliance/metrics.py.

Pure module: no ORM, no settings; callers pass sorted facts and ``now``. The
rules are the metric semantics of DESIGN.md, applied to one clock:

* first contact: the first sales touch at or after ``started_at`` (mql_at);
* disposition: the first final disposition (accepted, rejected, nurture) at or
  after ``started_at``;
* follow-up cadence: the N-th touch inside ``[started_at, due_at]`` or a final
  disposition inside that window, whichever comes first; a touch after the
  window never meets it (metrics.follow_up_outcome).

State: met when ``met_at <= due_at`` (a touch exactly at the due time is on
time), breached when ``met_at > due_at``. A clock with no ``met_at`` stays as it
is: running out of time is the compliance sweep's transition (it sends the
alerts), except that a clock which loses its ``met_at`` (a fact was corrected)
falls back to pending, or breached when ``now`` is already past its due time.
Every comparison is between UTC instants.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "BREACHED",
    "MET",
    "PENDING",
    "ClockUpdate",
    "clock_update",
    "first_at_or_after",
    "follow_up_met_at",
    "touches_in_window",
]

PENDING = "pending"
MET = "met"
BREACHED = "breached"


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {moment!r}")
    return moment.astimezone(UTC)


def first_at_or_after(moments: Sequence[datetime], start: datetime) -> datetime | None:
    """First of the ascending UTC ``moments`` at or after ``start`` (first contact, disposition)."""
    index = bisect_left(moments, _utc(start))
    return moments[index] if index < len(moments) else None


def follow_up_met_at(
    touches: Sequence[datetime],
    final_dispositions: Sequence[datetime],
    *,
    started_at: datetime,
    due_at: datetime,
    touches_needed: int,
) -> datetime | None:
    """When the cadence was met: the N-th touch or a final disposition in the window, or None.

    ``touches`` and ``final_dispositions`` are ascending UTC instants of the lead.
    """
    if touches_needed < 1:
        raise ValueError(f"touches_needed must be >= 1, got {touches_needed}")
    low, high = _utc(started_at), _utc(due_at)
    candidates = []
    first = bisect_left(touches, low)
    nth = first + touches_needed - 1
    if nth < len(touches) and touches[nth] <= high:
        candidates.append(touches[nth])
    disposition = first_at_or_after(final_dispositions, low)
    if disposition is not None and disposition <= high:
        candidates.append(disposition)
    return min(candidates) if candidates else None


def touches_in_window(touches: Sequence[datetime], *, started_at: datetime, until: datetime) -> int:
    """How many of the ascending ``touches`` fall in ``[started_at, until]`` (for the lead panel)."""
    low, high = _utc(started_at), _utc(until)
    return max(0, bisect_right(touches, high) - bisect_left(touches, low))


@dataclass(frozen=True)
class ClockUpdate:
    met_at: datetime | None
    state: str
    breached_at: datetime | None


def clock_update(
    *,
    met_at: datetime | None,
    due_at: datetime,
    state: str,
    breached_at: datetime | None,
    now: datetime,
) -> ClockUpdate:
    """The clock's met_at/state/breached_at given the fact that meets it (or None) and ``now``."""
    due = _utc(due_at)
    if met_at is not None:
        if _utc(met_at) <= due:
            return ClockUpdate(met_at=met_at, state=MET, breached_at=None)
        # Late: it ran out at due_at, whoever noticed it first keeps the stamp.
        return ClockUpdate(met_at=met_at, state=BREACHED, breached_at=breached_at or due_at)
    if state == MET:
        # The fact that met it is gone (a corrected import): judge it again by time.
        if _utc(now) > due:
            return ClockUpdate(met_at=None, state=BREACHED, breached_at=due_at)
        return ClockUpdate(met_at=None, state=PENDING, breached_at=None)
    return ClockUpdate(met_at=None, state=state, breached_at=breached_at)
