"""Inbound lead and activity items: validation and normalisation, one item at a time.

Pure module: no queries, no request, no settings; `now` is passed in. Every
ingestion channel (API, webhooks, CSV, UI, demo) goes through these parsers, so
a value means the same thing whichever way it arrived. A parser returns either
a typed item or a `{field: [message]}` dict naming what is wrong; it never
raises on bad input.

Lead items are partial updates: only the keys present are written. Unknown keys
are errors (a typo must not be silently dropped); extra CRM fields belong under
`properties`, which is merged key by key into what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.dateparse import parse_date, parse_datetime

from apps.accounts.input_bounds import (
    DATE_RANGE_MESSAGE,
    is_date_in_range,
    is_moment_in_range,
    text_problems_by_key,
)
from apps.leads.geography import country_code
from apps.leads.models import SALES_TOUCH_KINDS, ActivityKind, Stage
from apps.leads.seniority import derive_seniority
from apps.leads.touch_kinds import TOUCH_KIND_ALIASES, canonical_activity_kind

# Clocks of the senders drift; a few minutes "in the future" is a clock, not a forgery.
FUTURE_TOLERANCE = timedelta(minutes=5)

TEXT_FIELDS: dict[str, int] = {
    "first_name": 100,
    "last_name": 100,
    "title": 200,
    "company": 200,
    "company_domain": 200,
    "industry": 100,
    "region": 100,
    "source": 100,
    "campaign": 200,
}
LEAD_KEYS = frozenset(
    {
        "external_id",
        "email",
        *TEXT_FIELDS,
        "company_size",
        "annual_revenue",
        "country",
        "owner",
        "stage",
        "stage_changed_at",
        "amount",
        "expected_close",
        "properties",
        "created_at",
        "changed_at",
    }
)
# MQL is decided by the agreed definition (apps.mql), never pushed in from outside:
# a CRM's "marketing qualified" flag would bypass the SLA clocks.
UPSERT_STAGES = frozenset(Stage.values) - {Stage.MQL}
# Fields that, when an update changes them, may change the MQL evaluation.
QUALIFYING_FIELDS = frozenset(
    {
        "email",
        *TEXT_FIELDS,
        "company_size",
        "annual_revenue",
        "country",
        "seniority",
        "properties",
    }
)

ACTIVITY_KEYS = frozenset(
    {"external_id", "lead", "kind", "occurred_at", "properties", "actor", "note"}
)
ACTIVITY_KINDS = frozenset(ActivityKind.values)
# What a sender may write: the stored names and DESIGN.md's touch names ("email").
ACCEPTED_ACTIVITY_KINDS = ACTIVITY_KINDS | frozenset(TOUCH_KIND_ALIASES)

# Common spellings of acquisition channels in HubSpot and Salesforce exports.
SOURCE_ALIASES = {
    "organic_search": "organic",
    "seo": "organic",
    "direct_traffic": "direct",
    "referrals": "referral",
    "employee_referral": "referral",
    "customer_referral": "referral",
    "partner_referral": "partner",
    "partners": "partner",
    "trade_show": "events",
    "event": "events",
    "conference": "events",
    "offline": "events",
    "paid_search_ads": "paid_search",
    "ppc": "paid_search",
    "google_ads": "paid_search",
    "webinars": "webinar",
    "email_marketing": "email",
    "social_media": "organic_social",
    "purchased_list": "content_syndication",
    "syndication": "content_syndication",
}
_SNAKE = re.compile(r"[^a-z0-9]+")
_NUMBER_NOISE = re.compile(r"[\s,_$€£]")
_BAND = re.compile(r"^(\d+)\s*(?:-|–|to)\s*(\d+)$")
_OPEN_BAND = re.compile(r"^(\d+)\s*\+$")

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class LeadItem:
    """One valid lead item: the model values it sets and the extras the service applies."""

    external_id: str
    values: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] | None = None
    has_owner: bool = False
    owner_email: str | None = None  # None with has_owner = take the owner away
    stage: str | None = None
    stage_changed_at: datetime | None = None
    created_at: datetime | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True)
class ActivityItem:
    """One valid activity item; `lead` and `actor` are still external references."""

    external_id: str | None
    lead: str
    kind: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    actor_email: str | None = None
    note: str = ""


def normalize_source(value: str) -> str:
    """Channel names as snake_case with the common CRM spellings folded ("Trade Show" -> events)."""
    key = _SNAKE.sub("_", value.strip().casefold()).strip("_")
    return SOURCE_ALIASES.get(key, key)


def _text(value: Any, name: str, limit: int, errors: Errors) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        errors[name] = ["Must be text."]
        return None
    text = " ".join(str(value).split())
    if len(text) > limit:
        errors[name] = [f"At most {limit} characters (got {len(text)})."]
        return None
    return text


def _email(value: Any, name: str, errors: Errors, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = ["This field is required."]
        return ""
    if not isinstance(value, str):
        errors[name] = ["Must be an email address."]
        return None
    email = value.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors[name] = [f"“{value}” is not a valid email address."]
        return None
    return email


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(_NUMBER_NOISE.sub("", value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _company_size(value: Any, errors: Errors) -> int | None:
    """Employees; a band such as HubSpot's "500-1000" or "1000+" counts as its lower bound."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        band = _BAND.match(text) or _OPEN_BAND.match(text)
        if band:
            # The lower bound: a "500-1000" company is certainly at least 500 for routing.
            return int(band.group(1))
    number = _number(value)
    if number is None or number < 0 or number != number.to_integral_value():
        errors["company_size"] = ["Enter a whole number of employees (or a band like 50-100)."]
        return None
    if number > 10_000_000:
        errors["company_size"] = ["That is more employees than any company has."]
        return None
    return int(number)


def _money(value: Any, name: str, errors: Errors) -> Decimal | None:
    if value is None or value == "":
        return None
    number = _number(value)
    if number is None or number < 0:
        errors[name] = ["Enter a non-negative amount, e.g. 25000 or 25000.50."]
        return None
    if number >= Decimal("1e14"):
        errors[name] = ["Amount too large."]
        return None
    return number.quantize(Decimal("0.01"))


def parse_moment(
    value: Any, name: str, errors: Errors, *, now: datetime, naive_tz: tzinfo | None = None
) -> datetime | None:
    """An aware moment from ISO 8601 text; naive text only when `naive_tz` says how to read it."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            moment = None
        if moment is None:
            day = _date_only(value)
            # A bare date is midnight; it still needs an offset (or naive_tz) below.
            moment = datetime(day.year, day.month, day.day) if day else None  # noqa: DTZ001
    else:
        moment = None
    if moment is None:
        errors[name] = [
            f"“{value}” is not a date-time; use ISO 8601 with an offset, e.g. 2025-03-01T09:30:00+01:00."
        ]
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        if naive_tz is None:
            errors[name] = [
                "Include the UTC offset (e.g. +00:00 or Z): a time without one is ambiguous."
            ]
            return None
        moment = moment.replace(tzinfo=naive_tz)
    if not is_moment_in_range(moment):
        errors[name] = [DATE_RANGE_MESSAGE]
        return None
    if moment > now + FUTURE_TOLERANCE:
        errors[name] = ["Cannot be in the future."]
        return None
    return moment


def _date_only(value: str) -> date | None:
    text = value.strip()
    try:
        return parse_date(text) or parse_date(text.replace("/", "-"))
    except ValueError:
        return None


def _date(value: Any, name: str, errors: Errors) -> date | None:
    day = _date_value(value, name, errors)
    if day is not None and not is_date_in_range(day):
        errors[name] = [DATE_RANGE_MESSAGE]
        return None
    return day


def _date_value(value: Any, name: str, errors: Errors) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        day = _date_only(value)
        if day is None:
            try:
                moment = parse_datetime(value.strip())
            except ValueError:
                moment = None
            day = moment.date() if moment else None
        if day is not None:
            return day
    errors[name] = [f"“{value}” is not a date; use YYYY-MM-DD."]
    return None


def _external_id(value: Any, name: str, errors: Errors) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        errors[name] = ["This field is required."]
        return None
    text = value.strip()
    if len(text) > 128:
        errors[name] = ["At most 128 characters."]
        return None
    return text


def _unknown_keys(raw: Mapping[str, Any], allowed: frozenset[str], errors: Errors) -> None:
    for key in sorted(set(raw) - allowed, key=str):
        errors[str(key)] = ["Unknown field; put extra CRM fields under “properties”."]


def parse_lead_item(
    raw: Any, *, now: datetime, naive_tz: tzinfo | None = None
) -> tuple[LeadItem | None, Errors]:
    """A LeadItem from one inbound dict, or the field errors that reject it."""
    if not isinstance(raw, Mapping):
        return None, {"non_field_errors": ["Each item must be a JSON object."]}
    # Text the database cannot hold (NUL, lone surrogates) rejects the item before any
    # message could echo it back.
    errors: Errors = text_problems_by_key(dict(raw))
    if errors:
        return None, errors
    _unknown_keys(raw, LEAD_KEYS, errors)
    external_id = _external_id(raw.get("external_id"), "external_id", errors)
    values: dict[str, Any] = {}
    if "email" in raw:
        values["email"] = _email(raw["email"], "email", errors)
    for name, limit in TEXT_FIELDS.items():
        if name in raw:
            values[name] = _text(raw[name], name, limit, errors)
    if values.get("source"):
        values["source"] = normalize_source(values["source"])
    if "title" in raw and values.get("title") is not None:
        values["seniority"] = derive_seniority(values["title"])
    if "company_domain" in raw and values.get("company_domain"):
        domain = values["company_domain"].lower().removeprefix("https://").removeprefix("http://")
        values["company_domain"] = domain.removeprefix("www.").split("/")[0]
    if "country" in raw:
        text = raw["country"]
        if text is None or (isinstance(text, str) and not text.strip()):
            values["country"] = ""
        else:
            code = country_code(text) if isinstance(text, str) else None
            if code is None:
                errors["country"] = [
                    f"Unknown country “{text}”; use the ISO 3166-1 alpha-2 code (e.g. DE)."
                ]
            values["country"] = code
    if "company_size" in raw:
        values["company_size"] = _company_size(raw["company_size"], errors)
    for name in ("annual_revenue", "amount"):
        if name in raw:
            values[name] = _money(raw[name], name, errors)
    if "expected_close" in raw:
        values["expected_close"] = _date(raw["expected_close"], "expected_close", errors)

    properties = None
    if "properties" in raw and raw["properties"] is not None:
        if isinstance(raw["properties"], Mapping):
            properties = {str(k): v for k, v in raw["properties"].items()}
        else:
            errors["properties"] = ["Must be an object of extra fields."]

    has_owner = "owner" in raw
    owner_email = None
    if has_owner:
        owner_email = _email(raw["owner"], "owner", errors) or None

    stage = None
    if raw.get("stage") not in (None, ""):
        stage = str(raw["stage"]).strip().lower()
        if stage == Stage.MQL:
            errors["stage"] = [
                "MQL is decided by the agreed MQL definition; send the lead's fields and activities instead."
            ]
        elif stage not in UPSERT_STAGES:
            errors["stage"] = [
                f"Unknown stage “{raw['stage']}”; one of {', '.join(sorted(UPSERT_STAGES))}."
            ]
    moments: dict[str, datetime | None] = {}
    for name in ("stage_changed_at", "created_at", "changed_at"):
        if raw.get(name) not in (None, ""):
            moments[name] = parse_moment(raw[name], name, errors, now=now, naive_tz=naive_tz)

    if errors:
        return None, errors
    assert external_id is not None  # noqa: S101 - errors would have returned above
    return (
        LeadItem(
            external_id=external_id,
            values=values,
            properties=properties,
            has_owner=has_owner,
            owner_email=owner_email,
            stage=stage,
            stage_changed_at=moments.get("stage_changed_at"),
            created_at=moments.get("created_at"),
            changed_at=moments.get("changed_at"),
        ),
        {},
    )


def parse_activity_item(
    raw: Any, *, now: datetime, external_id_required: bool = True
) -> tuple[ActivityItem | None, Errors]:
    """An ActivityItem from one inbound dict, or the field errors that reject it."""
    if not isinstance(raw, Mapping):
        return None, {"non_field_errors": ["Each item must be a JSON object."]}
    errors: Errors = text_problems_by_key(dict(raw))
    if errors:
        return None, errors
    _unknown_keys(raw, ACTIVITY_KEYS, errors)
    external_id = None
    if external_id_required or raw.get("external_id") not in (None, ""):
        external_id = _external_id(raw.get("external_id"), "external_id", errors)
    lead = _external_id(raw.get("lead"), "lead", errors)
    kind = canonical_activity_kind(raw.get("kind"))
    if kind not in ACTIVITY_KINDS:
        errors["kind"] = [
            f"Unknown kind “{kind}”; one of {', '.join(sorted(ACCEPTED_ACTIVITY_KINDS))}."
            if kind not in (None, "")
            else "This field is required."
        ]
    occurred_at = None
    if raw.get("occurred_at") in (None, ""):
        errors["occurred_at"] = ["This field is required."]
    else:
        occurred_at = parse_moment(raw["occurred_at"], "occurred_at", errors, now=now)
    properties: dict[str, Any] = {}
    if raw.get("properties") is not None:
        if isinstance(raw["properties"], Mapping):
            properties = {str(k): v for k, v in raw["properties"].items()}
        else:
            errors["properties"] = ['Must be an object, e.g. {"url": "/pricing"}.']
    actor_email = None
    if raw.get("actor") not in (None, ""):
        if kind in ACTIVITY_KINDS and kind not in SALES_TOUCH_KINDS:
            errors["actor"] = ["Only sales touches have an actor."]
        else:
            actor_email = _email(raw["actor"], "actor", errors) or None
    note = raw.get("note") or ""
    if not isinstance(note, str):
        errors["note"] = ["Must be text."]
    elif len(note) > 5000:
        errors["note"] = ["At most 5000 characters."]
    if errors:
        return None, errors
    assert lead is not None  # noqa: S101 - checked above
    assert occurred_at is not None  # noqa: S101 - checked above
    return (
        ActivityItem(
            external_id=external_id,
            lead=lead,
            kind=str(kind),
            occurred_at=occurred_at,
            properties=properties,
            actor_email=actor_email,
            note=note.strip(),
        ),
        {},
    )
