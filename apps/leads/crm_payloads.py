"""Webhook payloads of the two CRMs most of our users run, flattened into source records.

Pure module: no ORM. A "record" is {CRM field name: value} for one contact or
lead; the organization's field mapping (apps.leads.field_mapping) then turns it
into a lead item. Accepted shapes:

HubSpot
- webhook events: a list of {"objectId", "subscriptionType": "contact.creation" |
  "contact.propertyChange", "propertyName", "propertyValue", "occurredAt" (epoch ms)};
  events of one contact are merged in order, other subscription types are ignored;
- contact objects: {"id" | "vid" | "objectId", "properties": {name: value | {"value": v}}},
  alone, in a list, or under "results" / "contacts" / "objects".
Salesforce
- lead records: {"Id", "FirstName", …, "attributes": {...}}, alone, in a list, or
  under "new" (Apex/Flow Trigger.new), "records" or "leads"; nested objects are
  flattened one level ("Owner": {"Email": …} -> "Owner.Email").

HubSpot sends date properties as epoch milliseconds; they are turned into ISO 8601
UTC so the mapped value parses like any other date.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

HUBSPOT_ID_FIELD = "hs_object_id"
_HUBSPOT_CONTAINERS = ("results", "contacts", "objects")
_SALESFORCE_CONTAINERS = ("new", "records", "leads")


class PayloadError(ValueError):
    """The body is JSON but not in a shape this source sends."""


def _epoch_ms(value: Any) -> str | None:
    text = str(value).strip()
    if text.isdigit() and 11 <= len(text) <= 14:
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC).isoformat()
    return None


def _hubspot_value(name: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        value = value.get("value")
    if value is not None and (name.endswith("date") or "date_" in name or name.endswith("_at")):
        return _epoch_ms(value) or value
    return value


def hubspot_records(payload: Any) -> tuple[list[dict[str, Any]], int]:
    """Contact records from a HubSpot-style payload and how many events were ignored."""
    if isinstance(payload, Mapping):
        for key in _HUBSPOT_CONTAINERS:
            if isinstance(payload.get(key), list):
                payload = payload[key]
                break
        else:
            payload = [payload]
    if not isinstance(payload, list):
        raise PayloadError("Expected a HubSpot event list or contact object(s).")
    records: dict[str, dict[str, Any]] = {}
    ignored = 0
    for entry in payload:
        if not isinstance(entry, Mapping):
            ignored += 1
            continue
        subscription = str(entry.get("subscriptionType") or "")
        if subscription:
            if subscription not in {"contact.creation", "contact.propertyChange"}:
                ignored += 1  # deletions, merges, companies and deals are not leads
                continue
            object_id = entry.get("objectId")
            if object_id in (None, ""):
                ignored += 1
                continue
            record = records.setdefault(str(object_id), {HUBSPOT_ID_FIELD: str(object_id)})
            if subscription == "contact.propertyChange" and entry.get("propertyName"):
                name = str(entry["propertyName"])
                record[name] = _hubspot_value(name, entry.get("propertyValue"))
            moment = _epoch_ms(entry.get("occurredAt") or "")
            if moment and moment > str(record.get("lastmodifieddate") or ""):
                record["lastmodifieddate"] = moment
            continue
        properties = entry.get("properties")
        object_id = entry.get("id") or entry.get("vid") or entry.get("objectId")
        if not isinstance(properties, Mapping):
            properties = {}
        object_id = object_id or _hubspot_value("", properties.get(HUBSPOT_ID_FIELD))
        if object_id in (None, ""):
            ignored += 1
            continue
        record = records.setdefault(str(object_id), {HUBSPOT_ID_FIELD: str(object_id)})
        for name, value in properties.items():
            record[str(name)] = _hubspot_value(str(name), value)
        if entry.get("updatedAt") and "lastmodifieddate" not in properties:
            record["lastmodifieddate"] = entry["updatedAt"]
        if entry.get("createdAt") and "createdate" not in properties:
            record["createdate"] = entry["createdAt"]
    return list(records.values()), ignored


def _flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in record.items():
        if name == "attributes":
            continue
        if isinstance(value, Mapping):
            for inner, inner_value in value.items():
                if inner != "attributes" and not isinstance(inner_value, Mapping | list):
                    flat[f"{name}.{inner}"] = inner_value
        elif not isinstance(value, list):
            flat[str(name)] = value
    return flat


def salesforce_records(payload: Any) -> tuple[list[dict[str, Any]], int]:
    """Lead records from a Salesforce-style payload and how many entries were ignored."""
    if isinstance(payload, Mapping):
        for key in _SALESFORCE_CONTAINERS:
            if isinstance(payload.get(key), list):
                payload = payload[key]
                break
        else:
            payload = [payload]
    if not isinstance(payload, list):
        raise PayloadError("Expected a Salesforce lead record or a list of them.")
    records, ignored = [], 0
    for entry in payload:
        if not isinstance(entry, Mapping):
            ignored += 1
            continue
        kind = (
            (entry.get("attributes") or {}).get("type")
            if isinstance(entry.get("attributes"), Mapping)
            else None
        )
        if kind not in (None, "Lead", "Contact"):
            ignored += 1  # accounts, opportunities, tasks: not a lead record
            continue
        records.append(_flatten(entry))
    return records, ignored


SOURCES = {"hubspot": hubspot_records, "salesforce": salesforce_records}
