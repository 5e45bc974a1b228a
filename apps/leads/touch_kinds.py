"""Sales-touch kind names as the API accepts them: DESIGN.md's and the ones the API used first.

DESIGN.md names the sales touches call, email, meeting, sms and social; the API first named the
email one ``email_sent``. Both are accepted wherever a kind comes in (activity ingestion, the
touches API, CSV and webhooks through the same parser, MQL behaviour conditions and score
signals); the stored name stays ``email_sent``, because stored activities and signed MQL
definitions (whose content is hashed into signed SLA versions) use it, and it is the name
responses carry.

Pure module: no ORM, no Django.
"""

from __future__ import annotations

from typing import Any

# DESIGN.md's name -> the stored name, where they differ.
TOUCH_KIND_ALIASES: dict[str, str] = {"email": "email_sent"}
# The sales-touch kinds as DESIGN.md names them (the documented names of the API).
DESIGN_TOUCH_KINDS = ("call", "email", "meeting", "sms", "social")


def canonical_activity_kind(kind: Any) -> Any:
    """The stored name of an activity kind as sent: an alias becomes its stored name; anything
    else (a stored name, an unknown kind, a non-string) is returned unchanged for the caller's
    validation to judge."""
    if isinstance(kind, str):
        return TOUCH_KIND_ALIASES.get(kind, kind)
    return kind
