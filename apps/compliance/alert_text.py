"""What an alert says, on every channel: titles, bodies, values, the Slack-compatible body.

Pure module: no ORM, no settings. Alerts carry a ``payload`` captured when they were
raised (names, due time, values, the organization's timezone), so a message rendered
again for a retry is byte for byte the same, and the webhook signature with it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "AlertMessage",
    "alert_message",
    "format_value",
    "signature",
    "slack_body",
]

CLOCK_LABELS = {
    "first_contact": "First contact",
    "follow_up": "Follow-up cadence",
    "disposition": "Disposition",
}
KIND_LABELS = {
    "due_soon": "Due soon",
    "breach": "SLA breach",
    "commitment_red": "Commitment red",
    "escalation": "Escalation",
}
RATE_METRICS = frozenset(
    {
        "mql_to_sql_rate",
        "first_contact_time",
        "follow_up_cadence",
        "disposition_time",
        "rejection_reason_coverage",
    }
)


@dataclass(frozen=True)
class AlertMessage:
    title: str
    body: str


def format_value(metric: str, value: float | None) -> str:
    """A metric value as people read it: 83 %, 42 MQLs, 3.1x; "no data" for None."""
    if value is None:
        return "no data"
    if metric in RATE_METRICS:
        return f"{value * 100:.0f} %"
    if metric == "pipeline_coverage":
        return f"{value:.1f}x"
    return f"{value:.0f}"


def _local(moment: str | None, tz: str) -> str:
    if not moment:
        return "?"
    parsed = datetime.fromisoformat(moment)
    return parsed.astimezone(ZoneInfo(tz or "UTC")).strftime("%a %d %b %H:%M")


def _lead(payload: dict[str, Any]) -> str:
    name = (payload.get("lead_name") or "").strip() or payload.get("lead_email") or "a lead"
    company = (payload.get("company") or "").strip()
    return f"{name} ({company})" if company else name


def alert_message(kind: str, payload: dict[str, Any]) -> AlertMessage:
    """Title and body of an alert of ``kind`` from its payload."""
    tz = payload.get("tz") or "UTC"
    if kind in {"due_soon", "breach"}:
        clock = CLOCK_LABELS.get(payload.get("clock_kind", ""), "SLA clock")
        lead = _lead(payload)
        due = _local(payload.get("due_at"), tz)
        commitment = payload.get("commitment") or ""
        owner = payload.get("owner_name") or "nobody"
        if kind == "due_soon":
            return AlertMessage(
                title=f"{clock} due soon: {lead}",
                body=f"{clock} for {lead} is due {due}. Commitment: {commitment}.",
            )
        return AlertMessage(
            title=f"SLA breached: {clock.lower()} for {lead}",
            body=f"{clock} for {lead} was due {due} and did not happen in time. "
            f"Owner: {owner}. Commitment: {commitment}.",
        )
    metric = payload.get("metric", "")
    commitment = payload.get("commitment") or metric.replace("_", " ")
    period = payload.get("period_label") or ""
    value = format_value(metric, payload.get("value"))
    target = format_value(metric, payload.get("target"))
    if kind == "commitment_red":
        return AlertMessage(
            title=f"“{commitment}” is red for {period}",
            body=f"{value} against a target of {target} "
            f"(yellow from {format_value(metric, payload.get('yellow_threshold'))}).",
        )
    if kind == "escalation":
        threshold = format_value(metric, payload.get("threshold"))
        periods = payload.get("periods") or 0
        kind_name = payload.get("period_kind") or "period"
        values = ", ".join(format_value(metric, v) for v in payload.get("values") or [])
        return AlertMessage(
            title=f"Escalation: “{commitment}” below {threshold} for {periods} consecutive "
            f"{kind_name}{'s' if periods != 1 else ''}",
            body=f"Latest closed {kind_name}: {period} at {value} (target {target}). "
            f"Last values: {values}.",
        )
    return AlertMessage(title=KIND_LABELS.get(kind, kind), body="")


def slack_body(kind: str, message: AlertMessage, url: str) -> bytes:
    """The webhook body: Slack-compatible JSON ({"text", "blocks"}), UTF-8, compact, stable."""
    link = f"<{url}|Open in Handoff>" if url else ""
    data = {
        "text": f"{message.title}\n{message.body}",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{message.title}*\n{message.body}"},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": " · ".join(p for p in (KIND_LABELS.get(kind, kind), link) if p),
                    }
                ],
            },
        ],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """The X-Handoff-Signature header value: ``sha256=<hex HMAC-SHA256 of the raw body>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"
