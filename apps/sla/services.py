"""Writes of the SLA app: calendars, contracts, versions and sign-off (clocks: apps/sla/clocks.py).

The sign-off state machine: draft → awaiting_signatures (content frozen and
hashed, a new signing round) → active (both leaders signed that exact content) →
superseded (a later version took over from its effective date). A change after
submission returns the version to draft, which withdraws the round's signatures; a
signed version never changes — these services refuse (Conflict), and so do the
admin, the API and, underneath, PostgreSQL triggers (migrations 0003, 0006). A
version drafted against an older signed version than the newest is outdated: it can
be neither submitted nor signed. Signatures are chained and MAC'd with a key kept
outside the database, and every sign-off step reseals the version (apps/sla/sealing.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.roles import Role
from apps.mql.models import MqlDefinition
from apps.sla import business_time, clocks, sealing, selectors
from apps.sla.agreement_templates import template_get
from apps.sla.models import (
    BusinessCalendar,
    ChangeAction,
    Commitment,
    EscalationRule,
    Metric,
    ReviewPeriod,
    Signature,
    SlaContract,
    SlaVersion,
    SlaVersionChange,
    Team,
    VersionStatus,
)
from apps.sla.segments import SegmentError, parse_segment
from apps.sla.snapshots import NINE_TO_FIVE_WEEK, calendar_json
from apps.sla.wording import label_following_params
from apps.tenants.addresses import organization_url
from config.celery_app import app as celery_app

logger = logging.getLogger(__name__)

# Who may draft and edit an SLA version (any change to a submitted one withdraws signatures).
DRAFTERS = frozenset({Role.MARKETING_LEADER, Role.SALES_LEADER, Role.ADMIN})
# Each leader signs for their own team only.
SIGNING_TEAM = {Role.MARKETING_LEADER: Team.MARKETING, Role.SALES_LEADER: Team.SALES}
SIGNED = (VersionStatus.ACTIVE, VersionStatus.SUPERSEDED)
REVIEW_AFTER = timedelta(days=30)  # the domain articles: run it 30 days unchanged, then review
CHANNELS = frozenset({"web", "api", "admin", "system"})
ESCALATION_ROLES = frozenset({Role.EXECUTIVE, Role.MARKETING_LEADER, Role.SALES_LEADER, Role.ADMIN})
_MAX_HOURS = 24 * 365
# Queued by name after a back-dated signature (apps/sla/tasks.py registers it under it).
CLOCKS_BACKFILL_TASK = "apps.sla.tasks.sla_clocks_backfill_task"


# --- roles and the audit trail ---------------------------------------------------


def _role(actor) -> str | None:
    return getattr(actor, "role", None)


def _require_drafter(actor) -> None:
    if _role(actor) not in DRAFTERS or not getattr(actor, "is_active", False):
        raise NotAllowed(
            "Only the marketing leader, the sales leader or an admin can draft the SLA."
        )


def _require_admin(actor) -> None:
    if _role(actor) != Role.ADMIN:
        raise NotAllowed("Only an admin can edit business calendars.")


def _person(actor):
    """The user to record as author (None for an organization API key or the system)."""
    return actor if getattr(actor, "pk", None) else None


def _log(
    version: SlaVersion,
    *,
    actor,
    action: str,
    summary: str,
    detail: Mapping[str, Any] | None = None,
    channel: str = "web",
) -> SlaVersionChange:
    # Every change of a version, sign-offs included, is in the organization's audit log too.
    audit_record(actor=_person(actor), action=f"sla.{action}", target=f"SLA v{version.number}", summary=summary[:400], channel=channel)  # fmt: skip
    return SlaVersionChange.objects.create(
        version=version,
        author=_person(actor),
        action=action,
        summary=summary[:400],
        detail=dict(detail or {}),
        channel=channel if channel in CHANNELS else "web",
    )


def version_change_record(
    *, version: SlaVersion, actor, summary: str, detail: Mapping[str, Any] | None = None
) -> SlaVersionChange:
    """Log a draft change made in the Django admin (which edits drafts only)."""
    if version.status != VersionStatus.DRAFT:
        raise Conflict("Only a draft can be changed outside the sign-off flow.", field="status")
    return _log(
        version,
        actor=actor,
        action=ChangeAction.EDITED,
        summary=summary,
        detail=detail,
        channel="admin",
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


# --- notifications -------------------------------------------------------------

_EVENT_SUBJECTS = {
    "submitted": "SLA v{number} is ready for your signature",
    "signed": "SLA v{number} was signed by {actor} for {team}",
    "signatures_withdrawn": "SLA v{number} changed: signatures withdrawn",
    "activated": "SLA v{number} is signed by both leaders and in force from {effective}",
    "superseded": "SLA v{number} was superseded",
}


def sla_notify(
    *, version: SlaVersion, event: str, actor=None, detail: Mapping[str, Any] | None = None
) -> None:
    """Tell the signers and the executive about a sign-off step (email after commit).

    Extension point for the compliance engineer (issue 7): add the in-app
    notification here; every step of the sign-off already calls this function.
    Events: submitted, signed, signatures_withdrawn, activated, superseded.
    """
    detail = dict(detail or {})
    recipients = list(
        get_user_model()
        .objects.filter(
            is_active=True,
            role__in=[Role.MARKETING_LEADER, Role.SALES_LEADER, Role.EXECUTIVE],
        )
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    effective = (
        timezone.localtime(version.effective_at).strftime("%d %b %Y %H:%M %Z")
        if version.effective_at
        else "its effective date"
    )
    subject = _EVENT_SUBJECTS.get(event, "SLA v{number}: {event}").format(
        number=version.number,
        actor=getattr(actor, "name", "") or getattr(actor, "email", "") or "someone",
        team=detail.get("team", ""),
        effective=effective,
        event=event,
    )
    link = _tenant_url(reverse("sla:version_detail", args=[version.pk]))
    lines = [subject + ".", ""]
    if detail.get("summary"):
        lines += [str(detail["summary"]), ""]
    lines += [f"Open the version: {link}", "", "— Handoff"]
    body = "\n".join(lines)
    organization = getattr(connection, "tenant", None)
    prefix = f"[{organization.name}] " if getattr(organization, "name", None) else ""

    def send() -> None:
        # A mail relay outage must not undo a signature that is already committed.
        try:
            send_mail(
                subject=prefix + subject,
                message=body,
                from_email=None,
                recipient_list=recipients,
            )
        except Exception:
            logger.exception("SLA notification %s for version %s failed", event, version.pk)

    transaction.on_commit(send)


def _tenant_url(path: str) -> str:
    tenant = getattr(connection, "tenant", None)
    if tenant is None or not getattr(tenant, "subdomain", None):
        return path
    return organization_url(tenant, path)


# --- business calendars -------------------------------------------------------


def _calendar_fields(
    *,
    name: str,
    timezone_name: str,
    week: Any,
    holiday_country: str,
    holiday_subdivision: str,
    closed_dates: Sequence[str | date],
) -> dict[str, Any]:
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the calendar a name.", field="name")
    try:
        data = calendar_json(
            name=name,
            timezone=(timezone_name or "").strip(),
            week=week,
            holiday_country=(holiday_country or "").strip().upper(),
            holiday_subdivision=(holiday_subdivision or "").strip().upper(),
            closed_dates=closed_dates,
        )
    except business_time.CalendarError as error:
        message = str(error)
        lowered = message.lower()
        if "timezone" in lowered:
            field = "timezone"
        elif "holiday" in lowered or "region" in lowered:
            field = "holiday_country"
        elif "closed" in lowered:
            field = "closed_dates"
        else:
            field = "week"
        raise DomainError(message, field=field) from error
    return {
        "name": data["name"][:120],
        "timezone": data["timezone"],
        "week": data["week"],
        "holiday_country": data["holiday_country"],
        "holiday_subdivision": data["holiday_subdivision"],
        "closed_dates": data["closed_dates"],
    }


def calendar_data_clean(
    *,
    timezone_name: str,
    week: Any,
    holiday_country: str = "",
    holiday_subdivision: str = "",
    closed_dates: Sequence[str | date] = (),
) -> dict[str, Any]:
    """A calendar's stored JSON, checked as saving would check it (DomainError naming the
    field), without saving anything: what the "is due at" preview of an unsaved calendar uses."""
    fields = _calendar_fields(
        name="preview",
        timezone_name=timezone_name,
        week=NINE_TO_FIVE_WEEK if week is None else week,
        holiday_country=holiday_country,
        holiday_subdivision=holiday_subdivision,
        closed_dates=closed_dates,
    )
    fields.pop("name")
    return fields


@transaction.atomic
def calendar_create(
    *,
    actor,
    name: str,
    timezone_name: str = "UTC",
    week: Any = None,
    holiday_country: str = "",
    holiday_subdivision: str = "",
    closed_dates: Sequence[str | date] = (),
    is_default: bool = False,
) -> BusinessCalendar:
    """A new business calendar (admins); the first one becomes the default."""
    if actor is not None:
        _require_admin(actor)
    fields = _calendar_fields(
        name=name,
        timezone_name=timezone_name,
        week=NINE_TO_FIVE_WEEK if week is None else week,
        holiday_country=holiday_country,
        holiday_subdivision=holiday_subdivision,
        closed_dates=closed_dates,
    )
    is_default = is_default or not BusinessCalendar.objects.exists()
    if is_default:
        BusinessCalendar.objects.filter(is_default=True).update(is_default=False)
    if actor is not None:
        audit_record(actor=_person(actor), action="calendar.created", target=fields["name"], timezone=fields["timezone"], is_default=is_default)  # fmt: skip
    return BusinessCalendar.objects.create(is_default=is_default, **fields)


@transaction.atomic
def calendar_update(
    *,
    calendar: BusinessCalendar,
    actor,
    name: str,
    timezone_name: str,
    week: Any,
    holiday_country: str = "",
    holiday_subdivision: str = "",
    closed_dates: Sequence[str | date] = (),
    is_default: bool | None = None,
) -> BusinessCalendar:
    """Change a calendar. Versions already submitted keep their frozen snapshot; clocks never move."""
    _require_admin(actor)
    fields = _calendar_fields(
        name=name,
        timezone_name=timezone_name,
        week=week,
        holiday_country=holiday_country,
        holiday_subdivision=holiday_subdivision,
        closed_dates=closed_dates,
    )
    for key, value in fields.items():
        setattr(calendar, key, value)
    if is_default:
        BusinessCalendar.objects.filter(is_default=True).exclude(pk=calendar.pk).update(
            is_default=False
        )
        calendar.is_default = True
    calendar.save()
    audit_record(actor=_person(actor), action="calendar.changed", target=calendar.name, timezone=calendar.timezone, is_default=calendar.is_default)  # fmt: skip
    return calendar


def calendar_default_ensure() -> BusinessCalendar:
    """The organization's default calendar, created Mon–Fri 09:00–17:00 UTC when there is none."""
    existing = BusinessCalendar.objects.filter(is_default=True).first()
    if existing is not None:
        return existing
    return calendar_create(actor=None, name="Standard business hours", is_default=True)


def calendar_snapshot(calendar: BusinessCalendar) -> dict[str, Any]:
    """The frozen JSON form of a calendar row, as stored in a submitted version."""
    return calendar_json(
        name=calendar.name,
        timezone=calendar.timezone,
        week=calendar.week or NINE_TO_FIVE_WEEK,
        holiday_country=calendar.holiday_country,
        holiday_subdivision=calendar.holiday_subdivision,
        closed_dates=calendar.closed_dates or [],
    )


# --- contracts and drafts --------------------------------------------------------


@transaction.atomic
def contract_create(*, actor, name: str) -> SlaContract:
    _require_drafter(actor)
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the agreement a name.", field="name")
    audit_record(actor=_person(actor), action="sla.contract_created", target=name[:200])
    return SlaContract.objects.create(name=name[:200])


def contract_default() -> SlaContract:
    """The organization's SLA (one is enough for most; the model allows more)."""
    contract = SlaContract.objects.order_by("id").first()
    return contract or SlaContract.objects.create(name="Marketing–Sales SLA")


def _next_number(contract: SlaContract) -> int:
    # Lock the contract so two drafts started at once do not take the same number.
    SlaContract.objects.select_for_update().filter(pk=contract.pk).first()
    highest = contract.versions.aggregate(n=Max("number"))["n"] or 0
    return highest + 1


def _published_definition() -> MqlDefinition | None:
    return MqlDefinition.objects.active().order_by("-version").first()


@transaction.atomic
def version_create(
    *,
    actor,
    contract: SlaContract | None = None,
    template_key: str | None = None,
    from_version: SlaVersion | None = None,
    channel: str = "web",
    effective_at: datetime | None = None,
) -> SlaVersion:
    """A new draft: blank, from a template (one click), or as an amendment of an existing version."""
    _require_drafter(actor)
    template = None
    if template_key:
        template = template_get(template_key)
        if template is None:
            raise DomainError(f"Unknown template {template_key!r}.", field="template")
    if template is not None and from_version is not None:
        raise DomainError("Start from a template or from a version, not both.", field="template")
    contract = contract or (from_version.contract if from_version else None) or contract_default()
    if from_version is not None and from_version.contract_id != contract.pk:
        raise DomainError("The version belongs to another agreement.", field="from_version")
    if from_version is not None:
        based_on = from_version if from_version.is_signed else from_version.based_on
    else:
        based_on = selectors.latest_signed_version()
    version = SlaVersion.objects.create(
        contract=contract,
        number=_next_number(contract),
        based_on=based_on,
        created_by=_person(actor),
        calendar=(from_version.calendar if from_version else None) or calendar_default_ensure(),
        mql_definition=(from_version.mql_definition if from_version else None)
        or _published_definition(),
        purpose=(from_version.purpose if from_version else template.purpose if template else ""),
        effective_at=effective_at or timezone.now().replace(second=0, microsecond=0),
    )
    if from_version is not None:
        sources = list(from_version.commitments.order_by("position", "id"))
        copies = {}
        for source in sources:
            copies[source.pk] = Commitment.objects.create(
                version=version,
                position=source.position,
                owner_team=source.owner_team,
                metric=source.metric,
                params=source.params,
                target=source.target,
                yellow_threshold=source.yellow_threshold,
                review_period=source.review_period,
                segment=source.segment,
                label=source.label,
            )
        for rule in from_version.escalation_rules.all():
            EscalationRule.objects.create(
                version=version,
                commitment=copies[rule.commitment_id],
                threshold=rule.threshold,
                periods=rule.periods,
                period_kind=rule.period_kind,
                notify_role=rule.notify_role,
            )
        origin = f"as an amendment of v{from_version.number}"
    elif template is not None:
        created = []
        for position, values in enumerate(template.commitments):
            fields = _commitment_fields(**values)
            created.append(Commitment.objects.create(version=version, position=position, **fields))
        for rule in template.escalations:
            EscalationRule.objects.create(
                version=version,
                commitment=created[rule["commitment"]],
                **_escalation_fields(
                    threshold=rule["threshold"],
                    periods=rule["periods"],
                    period_kind=rule["period_kind"],
                    notify_role=rule["notify_role"],
                    metric=created[rule["commitment"]].metric,
                ),
            )
        origin = f"from the template “{template.name}”"
    else:
        origin = "blank"
    _log(
        version,
        actor=actor,
        action=ChangeAction.CREATED,
        summary=f"Draft v{version.number} created {origin}",
        detail={"template": template_key, "from_version": getattr(from_version, "pk", None)},
        channel=channel,
    )
    return version


def _lock_editable(version: SlaVersion, *, actor, channel: str) -> SlaVersion:
    """Lock the version for a change; refuse a signed one; withdraw the signatures of a submitted one."""
    _require_drafter(actor)
    locked = SlaVersion.objects.select_for_update().get(pk=version.pk)
    if locked.status in SIGNED:
        raise Conflict(
            f"Version {locked.number} is signed and cannot be changed. Draft a new version instead.",
            field="status",
        )
    if locked.status == VersionStatus.AWAITING_SIGNATURES:
        # Signatures are append-only: going back to draft withdraws this round's (a new
        # submission opens the next round).
        withdrawn = locked.signatures.filter(round=locked.signing_round).count()
        locked.status = VersionStatus.DRAFT
        locked.content_hash = ""
        locked.calendar_snapshot = {}
        locked.submitted_at = None
        locked.save(update_fields=["status", "content_hash", "calendar_snapshot", "submitted_at"])
        version_seal(version=locked)
        summary = "Changed after submission: back to draft"
        if withdrawn:
            summary += f", {withdrawn} signature{'s' if withdrawn != 1 else ''} withdrawn"
        _log(
            locked,
            actor=actor,
            action=ChangeAction.SIGNATURES_WITHDRAWN,
            summary=summary,
            detail={"withdrawn": withdrawn},
            channel=channel,
        )
        sla_notify(
            version=locked,
            event="signatures_withdrawn",
            actor=actor,
            detail={"summary": summary + "; both leaders must sign again after it is resubmitted."},
        )
    _copy_state(version, locked)
    return locked


def _copy_state(version: SlaVersion, locked: SlaVersion) -> None:
    """Let the caller's instance see what the locked copy now holds (status, hash, snapshot)."""
    if version is not locked:
        for field in SlaVersion._meta.concrete_fields:
            setattr(version, field.attname, getattr(locked, field.attname))


_VERSION_FIELDS = ("purpose", "calendar", "mql_definition", "effective_at", "review_date")


@transaction.atomic
def version_update(
    *, version: SlaVersion, actor, channel: str = "web", **changes: Any
) -> SlaVersion:
    """Edit a draft's purpose, calendar, MQL definition, effective date or review date."""
    unknown = set(changes) - set(_VERSION_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    locked = _lock_editable(version, actor=actor, channel=channel)
    if "purpose" in changes:
        changes["purpose"] = (changes["purpose"] or "").strip()
        if len(changes["purpose"]) > 2000:
            raise DomainError(
                "Keep the purpose to one paragraph (2,000 characters).", field="purpose"
            )
    if "calendar" in changes and changes["calendar"] is None:
        raise DomainError("Choose a business calendar.", field="calendar")
    if "mql_definition" in changes:
        definition = changes["mql_definition"]
        if definition is not None and definition.kind != "mql":
            raise DomainError("Choose an MQL definition (not a PQL one).", field="mql_definition")
    if "effective_at" in changes and changes["effective_at"] is None:
        raise DomainError("Give the date the agreement takes effect.", field="effective_at")
    diff = {}
    for key, value in changes.items():
        old = getattr(locked, key)
        if old != value:
            diff[key] = {"from": _jsonable(old), "to": _jsonable(value)}
            setattr(locked, key, value)
    if {"review_date", "effective_at"} & diff.keys():
        _require_review_after_effective(locked)
    if diff:
        locked.save(update_fields=list(diff))
        _log(
            locked,
            actor=actor,
            action=ChangeAction.EDITED,
            summary="Changed " + ", ".join(k.replace("_", " ") for k in diff),
            detail=diff,
            channel=channel,
        )
    _copy_state(version, locked)
    return locked


def _require_review_after_effective(version: SlaVersion) -> None:
    """A review date is a day in the organization's zone, on or after the effective day."""
    if version.review_date is None or version.effective_at is None:
        return
    zone = ZoneInfo(selectors.organization_timezone())
    effective_day = version.effective_at.astimezone(zone).date()
    if version.review_date < effective_day:
        raise DomainError(
            f"The review date comes before the effective date ({effective_day:%d %b %Y}): "
            "choose a later day.",
            field="review_date",
        )


# --- commitments and escalation rules ---------------------------------------------


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise DomainError("Must be a number.", field=field)
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise DomainError("Must be a number.", field=field) from error
    if number != number or number in (float("inf"), float("-inf")):
        raise DomainError("Must be a finite number.", field=field)
    return number


def _whole(value: Any, field: str, *, low: int, high: int) -> int:
    number = _number(value, field)
    if not number.is_integer() or not low <= number <= high:
        raise DomainError(f"Must be a whole number from {low} to {high}.", field=field)
    return int(number)


def _clean_params(metric: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    params = dict(params or {})
    if metric in (Metric.FIRST_CONTACT_TIME, Metric.DISPOSITION_TIME):
        if "hours" not in params:
            raise DomainError("Say within how many hours.", field="params.hours")
        hours = _number(params["hours"], "params.hours")
        if not 0 < hours <= _MAX_HOURS:
            raise DomainError(
                f"Hours must be above 0 and at most {_MAX_HOURS}.", field="params.hours"
            )
        clock = params.get("clock", business_time.BUSINESS) or business_time.BUSINESS
        if clock not in (business_time.BUSINESS, business_time.CALENDAR):
            raise DomainError("Clock must be business or calendar.", field="params.clock")
        return {"hours": int(hours) if hours.is_integer() else hours, "clock": clock}
    if metric == Metric.FOLLOW_UP_CADENCE:
        return {
            "touches": _whole(params.get("touches"), "params.touches", low=1, high=100),
            "days": _whole(params.get("days"), "params.days", low=1, high=365),
        }
    if metric == Metric.PIPELINE_COVERAGE:
        revenue = _number(params.get("revenue_target"), "params.revenue_target")
        if revenue <= 0:
            raise DomainError(
                "The quarterly revenue target must be above 0.", field="params.revenue_target"
            )
        return {"revenue_target": int(revenue) if revenue.is_integer() else revenue}
    return {}


RATE_METRICS = frozenset(
    {
        Metric.MQL_TO_SQL_RATE,
        Metric.FIRST_CONTACT_TIME,
        Metric.FOLLOW_UP_CADENCE,
        Metric.DISPOSITION_TIME,
        Metric.REJECTION_REASON_COVERAGE,
    }
)


def _commitment_fields(
    *,
    owner_team: str,
    metric: str,
    params: Mapping[str, Any] | None = None,
    target: Any,
    yellow_threshold: Any,
    review_period: str = ReviewPeriod.WEEK,
    segment: Any = None,
    label: str = "",
) -> dict[str, Any]:
    """Validated commitment values; DomainError names the field at fault."""
    if owner_team not in Team.values:
        raise DomainError("Owner team must be marketing, sales or shared.", field="owner_team")
    if metric not in Metric.values:
        raise DomainError(f"Unknown metric {metric!r}.", field="metric")
    if review_period not in ReviewPeriod.values:
        raise DomainError("Review period must be week, month or quarter.", field="review_period")
    clean = _clean_params(metric, params)
    target_value = _number(target, "target")
    yellow = _number(yellow_threshold, "yellow_threshold")
    if metric in RATE_METRICS:
        if not 0 <= target_value <= 1:
            raise DomainError(
                "A rate target is a fraction from 0 to 1 (0.9 = 90%).", field="target"
            )
        if not 0 <= yellow <= 1:
            raise DomainError(
                "A rate threshold is a fraction from 0 to 1.", field="yellow_threshold"
            )
    elif target_value < 0 or yellow < 0:
        raise DomainError("Targets and thresholds cannot be negative.", field="target")
    if yellow > target_value:
        raise DomainError(
            "The yellow threshold must not be above the target (more is better).",
            field="yellow_threshold",
        )
    try:
        parse_segment(segment)
    except SegmentError as error:
        raise DomainError(str(error), field="segment") from error
    label = (label or "").strip()
    if len(label) > 200:
        raise DomainError("Keep the label under 200 characters.", field="label")
    return {
        "owner_team": owner_team,
        "metric": metric,
        "params": clean,
        "target": target_value,
        "yellow_threshold": yellow,
        "review_period": review_period,
        "segment": list(segment or []),
        "label": label,
    }


def _commitment_values(commitment: Commitment) -> dict[str, Any]:
    return {
        "owner_team": commitment.owner_team,
        "metric": commitment.metric,
        "params": commitment.params,
        "target": commitment.target,
        "yellow_threshold": commitment.yellow_threshold,
        "review_period": commitment.review_period,
        "segment": commitment.segment,
        "label": commitment.label,
    }


@transaction.atomic
def commitment_add(
    *, version: SlaVersion, actor, channel: str = "web", **values: Any
) -> Commitment:
    """Add a commitment at the end of a draft."""
    locked = _lock_editable(version, actor=actor, channel=channel)
    fields = _commitment_fields(**values)
    position = (locked.commitments.aggregate(p=Max("position"))["p"] or -1) + 1
    commitment = Commitment.objects.create(version=locked, position=position, **fields)
    _log(
        locked,
        actor=actor,
        action=ChangeAction.COMMITMENT_ADDED,
        summary=f"Added “{commitment}”",
        detail={"commitment": commitment.pk, "values": fields},
        channel=channel,
    )
    return commitment


@transaction.atomic
def commitment_update(
    *, commitment: Commitment, actor, channel: str = "web", **changes: Any
) -> Commitment:
    """Change a draft's commitment; unspecified fields keep their value."""
    locked = _lock_editable(commitment.version, actor=actor, channel=channel)
    before = _commitment_values(commitment)
    merged = {**before, **changes}
    if "metric" in changes and "params" not in changes and changes["metric"] != before["metric"]:
        raise DomainError("Give the parameters of the new metric.", field="params")
    if merged.get("label") == before.get("label"):
        # A label that spells out the old numbers ("within 2 business hours") follows them.
        merged["label"] = label_following_params(
            before.get("label") or "", before.get("params"), merged.get("params")
        )
    fields = _commitment_fields(**merged)
    diff = {k: {"from": before[k], "to": v} for k, v in fields.items() if before[k] != v}
    if diff:
        for key, value in fields.items():
            setattr(commitment, key, value)
        commitment.save()
        _log(
            locked,
            actor=actor,
            action=ChangeAction.COMMITMENT_CHANGED,
            summary=f"Changed “{commitment}”: " + ", ".join(k.replace("_", " ") for k in diff),
            detail={"commitment": commitment.pk, "changes": diff},
            channel=channel,
        )
    return commitment


@transaction.atomic
def commitment_remove(*, commitment: Commitment, actor, channel: str = "web") -> None:
    locked = _lock_editable(commitment.version, actor=actor, channel=channel)
    summary = f"Removed “{commitment}”"
    values = _commitment_values(commitment)
    pk = commitment.pk
    commitment.delete()
    _log(
        locked,
        actor=actor,
        action=ChangeAction.COMMITMENT_REMOVED,
        summary=summary,
        detail={"commitment": pk, "values": values},
        channel=channel,
    )


def _escalation_fields(
    *, threshold: Any, periods: Any, period_kind: str, notify_role: str, metric: str
) -> dict[str, Any]:
    value = _number(threshold, "threshold")
    if metric in RATE_METRICS and not 0 <= value <= 1:
        raise DomainError(
            "A rate threshold is a fraction from 0 to 1 (0.8 = 80%).", field="threshold"
        )
    if value < 0:
        raise DomainError("The threshold cannot be negative.", field="threshold")
    if period_kind not in ReviewPeriod.values:
        raise DomainError("Periods are weeks, months or quarters.", field="period_kind")
    if notify_role not in ESCALATION_ROLES:
        raise DomainError("Escalate to the executive, a leader or the admins.", field="notify_role")
    return {
        "threshold": value,
        "periods": _whole(periods, "periods", low=1, high=52),
        "period_kind": period_kind,
        "notify_role": notify_role,
    }


@transaction.atomic
def escalation_rule_add(
    *,
    version: SlaVersion,
    actor,
    commitment: Commitment,
    threshold: Any,
    periods: Any = 2,
    period_kind: str = ReviewPeriod.WEEK,
    notify_role: str = Role.EXECUTIVE,
    channel: str = "web",
) -> EscalationRule:
    """ "If <commitment> is below <threshold> for <periods> consecutive closed <period_kind>s, notify <role>"."""
    locked = _lock_editable(version, actor=actor, channel=channel)
    if commitment.version_id != locked.pk:
        raise DomainError("Choose a commitment of this version.", field="commitment")
    fields = _escalation_fields(
        threshold=threshold,
        periods=periods,
        period_kind=period_kind,
        notify_role=notify_role,
        metric=commitment.metric,
    )
    rule = EscalationRule.objects.create(version=locked, commitment=commitment, **fields)
    _log(
        locked,
        actor=actor,
        action=ChangeAction.ESCALATION_ADDED,
        summary=f"Added escalation: {rule}",
        detail={"rule": rule.pk, "values": {**fields, "commitment": commitment.pk}},
        channel=channel,
    )
    return rule


@transaction.atomic
def escalation_rule_update(
    *, rule: EscalationRule, actor, channel: str = "web", **changes: Any
) -> EscalationRule:
    locked = _lock_editable(rule.version, actor=actor, channel=channel)
    commitment = changes.pop("commitment", rule.commitment)
    if commitment.version_id != locked.pk:
        raise DomainError("Choose a commitment of this version.", field="commitment")
    before = {
        "threshold": rule.threshold,
        "periods": rule.periods,
        "period_kind": rule.period_kind,
        "notify_role": rule.notify_role,
    }
    fields = _escalation_fields(**{**before, **changes}, metric=commitment.metric)
    diff = {k: {"from": before[k], "to": v} for k, v in fields.items() if before[k] != v}
    if commitment.pk != rule.commitment_id:
        diff["commitment"] = {"from": rule.commitment_id, "to": commitment.pk}
    if diff:
        for key, value in fields.items():
            setattr(rule, key, value)
        rule.commitment = commitment
        rule.save()
        _log(
            locked,
            actor=actor,
            action=ChangeAction.ESCALATION_CHANGED,
            summary=f"Changed escalation: {rule}",
            detail={"rule": rule.pk, "changes": diff},
            channel=channel,
        )
    return rule


@transaction.atomic
def escalation_rule_remove(*, rule: EscalationRule, actor, channel: str = "web") -> None:
    locked = _lock_editable(rule.version, actor=actor, channel=channel)
    summary = f"Removed escalation: {rule}"
    pk = rule.pk
    rule.delete()
    _log(
        locked,
        actor=actor,
        action=ChangeAction.ESCALATION_REMOVED,
        summary=summary,
        detail={"rule": pk},
        channel=channel,
    )


# --- sign-off -------------------------------------------------------------------


def _signoff_lock() -> None:
    """One sign-off step at a time per organization: each signature takes the next link of
    the organization's chain, and "outdated" must be judged against every signature made."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}:sla:signoff"]
        )


def _refuse_outdated(version: SlaVersion, *, doing: str) -> None:
    newer = selectors.version_outdated_by(version)
    if newer is None:
        return
    base = version.based_on
    drafted = f"drafted from v{base.number}" if base is not None else "drafted"
    raise Conflict(
        f"Version {version.number} is outdated and cannot be {doing}: it was {drafted}, and "
        f"v{newer.number} was signed by both leaders after that (on "
        f"{timezone.localtime(newer.activated_at):%Y-%m-%d}). Draft an amendment of "
        f"v{newer.number} and carry the changes over.",
        field="based_on",
    )


def version_seal(*, version: SlaVersion) -> SlaVersion:
    """Recompute the version's seal with the current key (after every sign-off change)."""
    fresh = SlaVersion.objects.get(pk=version.pk)
    signatures = list(Signature.objects.filter(version=fresh))
    if not selectors.is_sealable(fresh):
        return fresh
    key = selectors.signing_key_ring().current
    fresh.sealed_signatures = sorted(s.sequence for s in signatures if s.sequence)
    fresh.seal = sealing.mac(key, selectors.seal_payload(fresh, signatures))
    fresh.seal_key_id = key.key_id
    SlaVersion.objects.filter(pk=fresh.pk).update(
        seal=fresh.seal, seal_key_id=fresh.seal_key_id, sealed_signatures=fresh.sealed_signatures
    )
    _copy_state(version, fresh)
    return fresh


@transaction.atomic
def version_submit(*, version: SlaVersion, actor, channel: str = "web") -> SlaVersion:
    """Freeze the calendar, hash the content and ask both leaders to sign this exact version."""
    _require_drafter(actor)
    _signoff_lock()
    locked = SlaVersion.objects.select_for_update().get(pk=version.pk)
    if locked.status != VersionStatus.DRAFT:
        raise Conflict(
            f"Only a draft can be submitted; this version is {locked.get_status_display().lower()}.",
            field="status",
        )
    _refuse_outdated(locked, doing="submitted")
    if not locked.commitments.exists():
        raise DomainError("Add at least one commitment before submitting.", field="commitments")
    if locked.mql_definition_id is None:
        raise DomainError(
            "Choose the MQL definition this agreement relies on.", field="mql_definition"
        )
    if locked.effective_at is None:
        raise DomainError("Give the date the agreement takes effect.", field="effective_at")
    calendar = locked.calendar or calendar_default_ensure()
    now = timezone.now()
    locked.calendar = calendar
    locked.calendar_snapshot = calendar_snapshot(calendar)
    if locked.review_date is None:
        going_live = max(locked.effective_at, now)
        locked.review_date = timezone.localtime(going_live + REVIEW_AFTER).date()
    locked.status = VersionStatus.AWAITING_SIGNATURES
    locked.submitted_at = now
    locked.signing_round += 1
    locked.content_hash = selectors.version_content_hash(locked)
    locked.save(
        update_fields=[
            "calendar",
            "calendar_snapshot",
            "review_date",
            "status",
            "submitted_at",
            "signing_round",
            "content_hash",
        ]
    )
    version_seal(version=locked)
    _log(
        locked,
        actor=actor,
        action=ChangeAction.SUBMITTED,
        summary=f"Submitted for signatures (content hash {locked.content_hash[:12]}…)",
        detail={"content_hash": locked.content_hash, "round": locked.signing_round},
        channel=channel,
    )
    sla_notify(
        version=locked,
        event="submitted",
        actor=actor,
        detail={"summary": "The marketing leader and the sales leader are asked to sign it."},
    )
    _copy_state(version, locked)
    return locked


def _signing_proof_ok(*, actor, channel: str, password: str | None, token) -> bool:
    """Re-authentication at the moment of signing: the password, or (API) a token of the
    signer's with the `sign` scope created within SIGNING_PROOF_MAX_AGE_MINUTES."""
    if password and actor.check_password(password):
        return True
    if channel != "api" or token is None or getattr(token, "user_id", None) != actor.pk:
        return False
    fresh_since = timezone.now() - timedelta(minutes=settings.SIGNING_PROOF_MAX_AGE_MINUTES)
    return token.has_scope("sign") and token.is_active and token.created_at >= fresh_since


def _signature_append(
    *,
    version: SlaVersion,
    actor,
    team: str,
    channel: str,
    ip_address: str | None,
    user_agent: str,
    content_hash: str,
) -> Signature:
    """The next link of the organization's signature chain, MAC'd with the current key."""
    head = Signature.objects.filter(sequence__isnull=False).order_by("-sequence").first()
    key = selectors.signing_key_ring().current
    signature = Signature(
        version=version,
        signer=actor,
        role=actor.role,
        team=team,
        signed_at=timezone.now(),
        ip_address=selectors.canonical_ip(ip_address),
        user_agent=(user_agent or "")[:400],
        channel=channel if channel in CHANNELS else "web",
        content_hash=content_hash,
        round=version.signing_round,
        sequence=(head.sequence if head else 0) + 1,
        previous_mac=head.mac if head else "",
        key_id=key.key_id,
    )
    signature.mac = sealing.mac(key, selectors.signature_payload(signature, version=version))
    signature.save(force_insert=True)
    return signature


@transaction.atomic
def version_sign(
    *,
    version: SlaVersion,
    actor,
    content_hash: str,
    channel: str = "web",
    password: str | None = None,
    token=None,
    ip_address: str | None = None,
    user_agent: str = "",
    team: str | None = None,
) -> Signature:
    """Sign a submitted version for the actor's team; the second team's signature activates it.

    The signer proves it is them at that moment (the password; through the API also a
    token with the `sign` scope made minutes ago) and names the ``content_hash`` they
    reviewed. The signature is chained to the organization's previous one and MAC'd.
    """
    own_team = SIGNING_TEAM.get(_role(actor))
    if own_team is None or not getattr(actor, "pk", None) or not actor.is_active:
        raise NotAllowed("Only the marketing leader and the sales leader can sign the SLA.")
    if team and team != own_team:
        raise NotAllowed(f"You can sign for {own_team} only, not for {team}.", field="team")
    if not _signing_proof_ok(actor=actor, channel=channel, password=password, token=token):
        if channel == "api":
            raise NotAllowed(
                "Signing needs a fresh proof: send your password, or use a token with the "
                f"`sign` scope created in the last {settings.SIGNING_PROOF_MAX_AGE_MINUTES} "
                "minutes.",
                field="password",
            )
        raise DomainError("That is not your password.", field="password")
    if not content_hash:
        raise DomainError(
            "The content hash of the version you reviewed is missing: read the version again "
            "and sign with its content_hash.",
            field="content_hash",
        )
    _signoff_lock()
    locked = SlaVersion.objects.select_for_update().get(pk=version.pk)
    if locked.status != VersionStatus.AWAITING_SIGNATURES:
        raise Conflict(
            f"This version is {locked.get_status_display().lower()}; only a submitted version can be signed.",
            field="status",
        )
    _refuse_outdated(locked, doing="signed")
    current = selectors.version_content_hash(locked)
    if current != locked.content_hash:
        # Only a write around the services can get here; refuse rather than sign something else.
        raise Conflict("The content no longer matches what was submitted.", field="content_hash")
    if content_hash != current:
        raise Conflict(
            "The version changed since you reviewed it; read it again before signing.",
            field="content_hash",
        )
    if locked.signatures.filter(team=own_team, round=locked.signing_round).exists():
        raise Conflict(f"This version is already signed for {own_team}.", field="team")
    signature = _signature_append(
        version=locked,
        actor=actor,
        team=own_team,
        channel=channel,
        ip_address=ip_address,
        user_agent=user_agent,
        content_hash=current,
    )
    _log(
        locked,
        actor=actor,
        action=ChangeAction.SIGNED,
        summary=f"Signed for {own_team} by {actor}",
        detail={
            "signature": signature.pk,
            "sequence": signature.sequence,
            "team": own_team,
            "content_hash": current,
        },
        channel=channel,
    )
    teams = set(locked.signatures.filter(round=locked.signing_round).values_list("team", flat=True))
    if {Team.MARKETING, Team.SALES} <= teams:
        _version_activate(locked, actor=actor, channel=channel)
    else:
        version_seal(version=locked)
        sla_notify(version=locked, event="signed", actor=actor, detail={"team": own_team})
    _copy_state(version, locked)
    return signature


def _version_activate(version: SlaVersion, *, actor, channel: str) -> None:
    """Both signed: in force from effective_at; every signed version it overlaps ends there."""
    now = timezone.now()
    effective = version.effective_at
    # Intervals [effective_at, superseded_at) of signed versions never overlap: the newest
    # signature wins from its effective date on, even one that lies in the past.
    replaced = list(
        SlaVersion.objects.select_for_update()
        .filter(status__in=SIGNED)
        .exclude(pk=version.pk)
        .filter(Q(superseded_at__isnull=True) | Q(superseded_at__gt=effective))
        .order_by("id")
    )
    for old in replaced:
        old.status = VersionStatus.SUPERSEDED
        old.superseded_at = effective
        old.save(update_fields=["status", "superseded_at"])
        version_seal(version=old)
        _log(
            old,
            actor=actor,
            action=ChangeAction.SUPERSEDED,
            summary=f"Superseded by v{version.number} from {effective:%Y-%m-%d %H:%M} UTC",
            detail={"by": version.pk},
            channel=channel,
        )
    version.status = VersionStatus.ACTIVE
    version.activated_at = now
    version.save(update_fields=["status", "activated_at"])
    version_seal(version=version)
    _log(
        version,
        actor=actor,
        action=ChangeAction.ACTIVATED,
        summary=f"Signed by both leaders; in force from {effective:%Y-%m-%d %H:%M} UTC",
        detail={"replaced": [old.pk for old in replaced]},
        channel=channel,
    )
    sla_notify(version=version, event="activated", actor=actor)
    for old in replaced:
        sla_notify(version=old, event="superseded", actor=actor)
    if effective < now:
        version_pk = version.pk
        transaction.on_commit(lambda: _clocks_backfill_enqueue(version_pk))


@dataclass(frozen=True)
class SealReport:
    """What ``evidence_seal`` did: counts, and the versions it refused to vouch for."""

    signatures_sealed: int
    versions_sealed: int
    versions_rekeyed: int
    refused: tuple[str, ...]


@transaction.atomic
def evidence_seal() -> SealReport:
    """Seal sign-off evidence made before keyed signatures, and move seals to the current key.

    Run once after upgrading (``manage.py sla_seal``; scripts/run and the Procfile's
    release run it, it is idempotent). A signature without a MAC gets its place in the
    chain and its MAC, in signing order — but only when its version still verifies by
    its bare content hash: evidence that no longer holds is reported, never vouched for.
    A version seal made with an older key that still verifies is remade with the current
    key (signature MACs keep their key: keep old keys configured).
    """
    _signoff_lock()
    refused: dict[int, str] = {}
    legacy = list(
        Signature.objects.filter(sequence__isnull=True)
        .select_related("version")
        .order_by("signed_at", "id")
    )
    for signature in legacy:
        version = signature.version
        if version.pk in refused:
            continue
        if version.status != VersionStatus.DRAFT and (
            selectors.version_content_hash(version) != version.content_hash
        ):
            refused[version.pk] = (
                f"v{version.number}: its content no longer hashes to what was submitted"
            )
        elif (
            version.status != VersionStatus.DRAFT
            and signature.round == version.signing_round
            and signature.content_hash != version.content_hash
        ):
            refused[version.pk] = f"v{version.number}: a signature is for other content"
    head = Signature.objects.filter(sequence__isnull=False).order_by("-sequence").first()
    sequence, previous = (head.sequence, head.mac) if head else (0, "")
    key = selectors.signing_key_ring().current
    sealed = 0
    for signature in legacy:
        if signature.version_id in refused:
            continue
        sequence += 1
        signature.sequence, signature.previous_mac, signature.key_id = (
            sequence,
            previous,
            key.key_id,
        )
        signature.mac = sealing.mac(
            key, selectors.signature_payload(signature, version=signature.version)
        )
        signature.save(update_fields=["sequence", "previous_mac", "key_id", "mac"])
        previous = signature.mac
        sealed += 1
    versions_sealed = rekeyed = 0
    ring = selectors.signing_key_ring()
    for version in SlaVersion.objects.filter(
        Q(signing_round__gt=0) | ~Q(status=VersionStatus.DRAFT)
    ).order_by("id"):
        if version.pk in refused:
            continue
        if not version.seal:
            if version.status != VersionStatus.DRAFT and (
                selectors.version_content_hash(version) != version.content_hash
            ):
                refused[version.pk] = (
                    f"v{version.number}: its content no longer hashes to what was submitted"
                )
                continue
            version_seal(version=version)
            versions_sealed += 1
        elif version.seal_key_id != key.key_id:
            signatures = list(Signature.objects.filter(version=version))
            payload = selectors.seal_payload(version, signatures)
            if sealing.mac_matches(ring, version.seal_key_id, payload, version.seal):
                version_seal(version=version)
                rekeyed += 1
            else:
                refused[version.pk] = f"v{version.number}: its seal does not verify"
    return SealReport(
        signatures_sealed=sealed,
        versions_sealed=versions_sealed,
        versions_rekeyed=rekeyed,
        refused=tuple(refused.values()),
    )


def _clocks_backfill_enqueue(version_pk: int) -> None:
    version = SlaVersion.objects.filter(pk=version_pk).first()
    if version is not None and clocks.backfill_events(version).exists():
        # By name: the task module imports this one (tasks call services, not back).
        celery_app.send_task(CLOCKS_BACKFILL_TASK, args=[version_pk])
