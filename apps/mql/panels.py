"""The lead page's "why is this an MQL?" panel, with the lead's MQL/PQL event history."""

from apps.mql.selectors import mql_event_history


def lead_panel(*, lead, user) -> dict | None:
    events = mql_event_history(lead=lead)
    latest = events[-1] if events else None
    return {
        "title": "Why is this an MQL?" if latest else "MQL qualification",
        "template": "mql/_lead_panel.html",
        "context": {
            "latest": latest,
            "why": latest.explanation if latest else None,
            "events": list(reversed(events)),
            "lead": lead,
        },
        "order": 30,
    }
