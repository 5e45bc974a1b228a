"""The lead page's "why is this an MQL?" panel, with the lead's MQL/PQL event history."""

from datetime import datetime

from apps.mql.selectors import mql_event_history


def _moment(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def lead_panel(*, lead, user) -> dict | None:
    events = mql_event_history(lead=lead)
    latest = events[-1] if events else None
    why = latest.explanation if latest else None
    # Set when a fact older than the MQL arrived later and moved it earlier.
    redated = None
    if why and why.get("redated_from"):
        redated = {
            "from": _moment(why["redated_from"]),
            "recorded_at": _moment(why.get("redated_at")),
            "times": len(why.get("redates") or []),
        }
    return {
        "title": "Why is this an MQL?" if latest else "MQL qualification",
        "template": "mql/_lead_panel.html",
        "context": {
            "latest": latest,
            "why": why,
            "redated": redated,
            "events": list(reversed(events)),
            "lead": lead,
        },
        "order": 30,
    }
