"""The lead page's "SLA clocks" panel: each clock with its countdown or overdue time in business time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from apps.leads.models import Activity, ActivityFamily
from apps.sla import business_time, clock_rules
from apps.sla.models import ClockKind, ClockState
from apps.sla.selectors import lead_clocks
from apps.sla.snapshots import calendar_from_json

CLOCK_LIMIT = 12
# "Due soon" when this share of the allowance, or less, is left.
WARNING_SHARE = 0.25


def format_duration(duration: timedelta) -> str:
    """ "3 h 05 min", "45 min", "2 d 4 h" (days only past 48 h) — a countdown people can read."""
    minutes = max(0, int(duration.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        days, hours = divmod(hours, 24)
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def _rule(clock) -> str:
    params = clock.commitment.params or {}
    if clock.kind == ClockKind.FOLLOW_UP:
        return f"{params.get('touches')} touches within {params.get('days')} days"
    unit = "business hours" if params.get("clock", "business") == "business" else "hours"
    return f"within {params.get('hours')} {unit}"


def clock_rows(*, lead, now: datetime | None = None) -> list[dict]:
    """The lead's clocks with what the panel shows: countdown, overdue time, cadence progress."""
    now = now or timezone.now()
    clocks = list(lead_clocks(lead=lead)[:CLOCK_LIMIT])
    if not clocks:
        return []
    touches: list[datetime] = []
    if any(c.kind == ClockKind.FOLLOW_UP for c in clocks):
        since = min(c.started_at for c in clocks)
        touches = [
            t.astimezone(UTC)
            for t in Activity.objects.filter(
                lead=lead, family=ActivityFamily.SALES_TOUCH, occurred_at__gte=since
            )
            .order_by("occurred_at")
            .values_list("occurred_at", flat=True)
        ]
    calendars: dict[tuple[int, str], business_time.BusinessCalendar] = {}
    rows = []
    for clock in clocks:
        params = clock.commitment.params or {}
        mode = (
            business_time.CALENDAR
            if clock.kind == ClockKind.FOLLOW_UP
            else params.get("clock", business_time.BUSINESS)
        )
        key = (clock.sla_version_id, mode)
        if key not in calendars:
            calendars[key] = calendar_from_json(clock.sla_version.calendar_snapshot, mode=mode)
        calendar = calendars[key]
        row = {
            "clock": clock,
            "label": clock.commitment.label or clock.get_kind_display(),
            "rule": _rule(clock),
            "overdue": False,
            "warning": False,
            "countdown": "",
            "progress": "",
        }
        if clock.state == ClockState.PENDING:
            if now >= clock.due_at:
                row["overdue"] = True
                row["countdown"] = format_duration(
                    business_time.between(calendar, clock.due_at, now)
                )
            else:
                left = business_time.between(calendar, now, clock.due_at)
                allowance = business_time.between(calendar, clock.started_at, clock.due_at)
                row["countdown"] = format_duration(left)
                row["warning"] = bool(allowance) and left <= allowance * WARNING_SHARE
        if clock.kind == ClockKind.FOLLOW_UP:
            done = clock_rules.touches_in_window(
                touches, started_at=clock.started_at, until=min(now, clock.due_at)
            )
            row["progress"] = f"{done} of {params.get('touches')} touches so far"
        rows.append(row)
    return rows


def lead_panel(*, lead, user) -> dict | None:
    rows = clock_rows(lead=lead)
    if not rows and lead.mql_at is None:
        return None
    version = rows[0]["clock"].sla_version if rows else None
    return {
        "title": "SLA clocks",
        "template": "sla/_lead_panel.html",
        "context": {
            "rows": rows,
            "zone": (version.calendar_snapshot or {}).get("timezone", "UTC") if version else "UTC",
            "version_number": version.number if version else None,
            "has_mql": lead.mql_at is not None,
        },
        "order": 20,
    }
