"""The audit log in words: what an event's code and detail mean to the people reading it.

Pure module (no ORM, no request, no settings): ``describe`` turns ``("user.role_changed",
"sam@acme.test", {"old": "rep", "new": "admin"})`` into "changed the role of
sam@acme.test from Sales rep to Admin", and ``detail_lines`` turns the rest of the detail
into "Label: value" lines, with instants in the zone it is given (never a Python dict,
never a raw ISO string). ``KINDS`` groups the codes into the kinds the log filters by.

Decisions:
- An unknown code still reads as words ("routing rule · archived"), so a new event is
  never shown as a code.
- Details the sentence already says are not repeated underneath.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["KINDS", "describe", "detail_lines", "kind_of", "kind_prefixes"]

# kind (as offered in the filter) -> (label, code prefixes)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "people": ("People and invitations", ("user.", "invitation.")),
    "keys": ("API keys and tokens", ("api_key.",)),
    "sla": ("SLA and sign-off", ("sla.",)),
    "calendars": ("Business calendars", ("calendar.",)),
    "mql": ("MQL definitions", ("mql.",)),
    "icp": ("Ideal customer profile", ("icp.",)),
    "routing": ("Routing and leads", ("routing_rule.", "lead.")),
    "ingestion": ("Imports, mapping and webhooks", ("import.", "field_mapping.", "webhook.")),
    "feedback": ("Reason codes and dispositions", ("reason_code.", "disposition.")),
    "alerts": ("Alert settings", ("alert_settings.",)),
    "spend": ("Marketing spend", ("spend.",)),
}

ROLE_LABELS = {
    "admin": "Admin",
    "executive": "Executive",
    "marketing_leader": "Marketing leader",
    "marketer": "Marketer",
    "sales_leader": "Sales leader",
    "rep": "Sales rep",
}
OUTCOME_LABELS = {
    "accepted": "Accepted",
    "rejected": "Rejected",
    "nurture": "Returned to nurture",
    "working": "Working",
}

# code -> sentence ({target} and detail keys are filled in); the actor is shown apart.
_SENTENCES: dict[str, str] = {
    "user.created": "added {target} as {role}",
    "user.invited": "invited {target} as {role}",
    "invitation.accepted": "accepted the invitation and set a password",
    "user.role_changed": "changed the role of {target} from {old} to {new}",
    "user.deactivated": "deactivated {target}",
    "user.reactivated": "reactivated {target}",
    "api_key.created": "created the API key {target}",
    "api_key.revoked": "revoked the API key {target}",
    "routing_rule.created": "created the routing rule “{target}”",
    "routing_rule.changed": "changed the routing rule “{target}”",
    "routing_rule.deleted": "deleted the routing rule “{target}”",
    "routing_rule.moved": "moved the routing rule “{target}” {direction}",
    "lead.reassigned": "reassigned {target} from {previous} to {owner}",
    "lead.routed": "ran routing for {target}: now with {owner}",
    "import.started": "started importing {target} ({rows} rows)",
    "field_mapping.changed": "changed the {target}",
    "webhook.rotated": "rotated the secrets of the {target}",
    "webhook.enabled": "switched the {target} on",
    "webhook.disabled": "switched the {target} off",
    "mql.draft_created": "drafted {target} “{name}”",
    "mql.draft_changed": "changed the draft {target} “{name}”",
    "mql.published": "published {target} “{name}”",
    "mql.commented": "commented on {target}",
    "mql.redated": "re-dated MQLs after an earlier fact arrived",
    "icp.revised": "saved {target}",
    "icp.approved": "approved {target} for the {role} team",
    "reason_code.created": "added the reason “{target}” ({outcome})",
    "reason_code.renamed": "renamed the reason “{before}” to “{target}”",
    "reason_code.reordered": "reordered the reasons for “{outcome}”",
    "reason_code.retired": "retired the reason “{target}”",
    "reason_code.restored": "offered the reason “{target}” again",
    "disposition.given": "gave {target} the disposition {outcome}",
    "disposition.bulk_given": "gave {target} a disposition at once",
    "disposition.undone": "took back the disposition {outcome} of {target}",
    "calendar.created": "created the business calendar “{target}”",
    "calendar.changed": "changed the business calendar “{target}”",
    "alert_settings.changed": "changed the alert settings",
    "spend.set": "entered marketing spend for {target}: {amount}",
    "spend.deleted": "deleted the marketing spend of {target}",
    "sla.contract_created": "created the agreement “{target}”",
}
# SLA version changes carry their own summary, written when they happened.
_SLA_VERBS = {
    "created": "drafted",
    "edited": "edited",
    "commitment_added": "added a commitment to",
    "commitment_changed": "changed a commitment of",
    "commitment_removed": "removed a commitment from",
    "escalation_added": "added an escalation rule to",
    "escalation_changed": "changed an escalation rule of",
    "escalation_removed": "removed an escalation rule from",
    "submitted": "submitted for signatures",
    "signatures_withdrawn": "withdrew the signatures of",
    "signed": "signed",
    "activated": "put in force",
    "superseded": "superseded",
}
# Operators of lead-field conditions (routing rules, segments) as the builders word them.
_OP_WORDS = {
    "equals": "is",
    "not_equals": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "between": "between",
    "contains": "contains",
    "is_set": "is known",
}
_LABELS = {
    "due_soon_share": "Warn when this share is left",
    "webhook_url": "Webhook URL",
    "webhook_enabled": "Webhook on",
    "webhook_kinds": "Webhook sends",
    "is_default": "Default calendar",
    "given_at": "Given at",
    "summary": "What",
    "channel": "Through",
    "comment": "Comment",
    "pool": "Pool",
    "fallback": "Fallback",
    "conditions": "Conditions",
    "active": "Active",
    "order": "Order",
    "outcomes": "Outcomes",
    "mapping": "Mapping",
    "reason": "Reason",
}


class _Values(dict):
    """format_map source: known keys in words, unknown ones as blanks."""

    def __missing__(self, key: str) -> str:
        return "…"


def kind_of(action: str) -> str | None:
    """The filter kind of an event code, or None when no kind lists it."""
    for key, (_label, prefixes) in KINDS.items():
        if action.startswith(prefixes):
            return key
    return None


def kind_prefixes(kind: str) -> tuple[str, ...]:
    return KINDS.get(kind, ("", ()))[1]


def _word(key: str, value: Any) -> str:
    if key in {"role", "old", "new"} and isinstance(value, str):
        return ROLE_LABELS.get(value, value.replace("_", " "))
    if key == "outcome" and isinstance(value, str):
        return OUTCOME_LABELS.get(value, value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def describe(action: str, target: str, detail: Mapping[str, Any] | None) -> str:
    """The event as a sentence whose subject is the person shown next to it."""
    detail = detail or {}
    if action.startswith("sla.") and action.removeprefix("sla.") in _SLA_VERBS:
        verb = _SLA_VERBS[action.removeprefix("sla.")]
        summary = str(detail.get("summary") or "").strip()
        return f"{verb} {target}" + (f": {summary}" if summary else "")
    template = _SENTENCES.get(action)
    if template is None:
        subject, _, verb = action.partition(".")
        words = f"{verb.replace('_', ' ')} {subject.replace('_', ' ')}".strip()
        return f"{words} {target}".strip() if target else words
    values = _Values({key: _word(key, value) for key, value in detail.items()})
    values["target"] = target or "…"
    if "role" in detail and action == "icp.approved":
        values["role"] = "marketing" if detail["role"] == "marketing_leader" else "sales"
    return template.format_map(values)


def _said_in_sentence(action: str) -> set[str]:
    template = _SENTENCES.get(action, "")
    said = {part.split("}")[0] for part in template.split("{")[1:]}
    if action.startswith("sla."):
        said.add("summary")
    return said


def _value_text(value: Any, zone: ZoneInfo) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        moment = _instant(value)
        if moment is not None:
            local = moment.astimezone(zone)
            return f"{local.day} {local:%b %Y %H:%M %Z}"
        return value
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(item, zone) for item in value) or "—"
    if isinstance(value, Mapping):
        if set(value) == {"from", "to"}:
            return f"{_value_text(value['from'], zone)} → {_value_text(value['to'], zone)}"
        if {"field", "op"} <= set(value):
            field = str(value["field"]).replace("_", " ").capitalize()
            op = _OP_WORDS.get(value["op"], str(value["op"]).replace("_", " "))
            return f"{field} {op} {_value_text(value.get('value'), zone)}"
        return "; ".join(f"{_label(k)}: {_value_text(v, zone)}" for k, v in value.items())
    return str(value)


def _instant(text: str) -> datetime | None:
    """An ISO instant with its offset (as services store them), else None."""
    if len(text) < 16 or text[4:5] != "-" or "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " ").capitalize())


def detail_lines(action: str, detail: Mapping[str, Any] | None, *, zone: str) -> list[str]:
    """ "Label: value" lines for what the sentence does not already say."""
    tz = ZoneInfo(zone)
    said = _said_in_sentence(action)
    return [
        f"{_label(key)}: {_value_text(value, tz)}"
        for key, value in (detail or {}).items()
        if key not in said and value not in (None, "", [], {})
    ]
