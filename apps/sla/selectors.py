"""Reads of the SLA app: the version in force, calendars, clocks, history and verification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.sla import business_time
from apps.sla.models import (
    BusinessCalendar,
    Commitment,
    EscalationRule,
    Signature,
    SlaClock,
    SlaContract,
    SlaVersion,
    SlaVersionChange,
    VersionStatus,
)
from apps.sla.snapshots import calendar_from_json, content_hash, describe_week
from apps.sla.wording import describe_commitment, describe_escalation, elapsed_words


def version_in_force(*, at: datetime) -> SlaVersion | None:
    """The signed version that governed ``at`` (its effective date may lie in the past), or None."""
    return (
        SlaVersion.objects.in_force_at(at)
        .select_related("contract", "mql_definition")
        .order_by("-effective_at", "-id")
        .first()
    )


def active_version(*, now: datetime | None = None) -> SlaVersion | None:
    """The version in force now: what new MQLs are measured against and what the wall shows."""
    return version_in_force(at=now or timezone.now())


def calendar_for_version(
    version: SlaVersion, *, mode: str = business_time.BUSINESS
) -> business_time.BusinessCalendar:
    """The business calendar frozen into ``version`` (the 9-to-5 UTC default when none was)."""
    return calendar_from_json(version.calendar_snapshot, mode=mode)


def calendar_default() -> BusinessCalendar | None:
    """The organization's default calendar row (provisioned at signup)."""
    return BusinessCalendar.objects.filter(is_default=True).order_by("id").first() or (
        BusinessCalendar.objects.order_by("id").first()
    )


def organization_timezone(*, now: datetime | None = None) -> str:
    """The organization's zone, in which every page shows and every form reads times, and in
    which periods are cut: the calendar of the SLA in force, else of the newest signed version,
    else the default calendar, else UTC."""
    version = version_in_force(at=now or timezone.now())
    if version is None:
        version = (
            SlaVersion.objects.filter(status__in=(VersionStatus.ACTIVE, VersionStatus.SUPERSEDED))
            .order_by("-effective_at")
            .first()
        )
    if version is not None and (version.calendar_snapshot or {}).get("timezone"):
        return version.calendar_snapshot["timezone"]
    calendar = calendar_default()
    return calendar.timezone if calendar is not None and calendar.timezone else "UTC"


def calendar_list() -> QuerySet[BusinessCalendar]:
    return BusinessCalendar.objects.order_by("-is_default", "name")


def lead_clocks(*, lead) -> QuerySet[SlaClock]:
    """The lead's SLA clocks, newest MQL first, with their commitment and version."""
    return (
        SlaClock.objects.filter(lead=lead)
        .select_related("commitment", "sla_version", "mql_event")
        .order_by("-started_at", "commitment__position", "id")
    )


def contract_list() -> QuerySet[SlaContract]:
    return SlaContract.objects.order_by("name", "id")


def version_list(*, contract: SlaContract | None = None) -> QuerySet[SlaVersion]:
    qs = SlaVersion.objects.select_related("contract", "mql_definition", "created_by")
    if contract is not None:
        qs = qs.filter(contract=contract)
    return qs.order_by("contract_id", "-number")


def version_detail_queryset() -> QuerySet[SlaVersion]:
    """Versions with everything their page, their hash and their print layout read."""
    return SlaVersion.objects.select_related(
        "contract", "calendar", "mql_definition", "created_by"
    ).prefetch_related(
        Prefetch("commitments", queryset=Commitment.objects.order_by("position", "id")),
        Prefetch(
            "escalation_rules",
            queryset=EscalationRule.objects.select_related("commitment").order_by("id"),
        ),
        Prefetch(
            "signatures",
            queryset=Signature.objects.select_related("signer").order_by("signed_at", "id"),
        ),
    )


# --- signed content and its verification --------------------------------------------

CONTENT_SCHEMA = 1


def _iso(moment) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).isoformat()
    return moment.isoformat()


def version_content(version: SlaVersion) -> dict[str, Any]:
    """Everything the leaders sign, as plain JSON: the input of the SHA-256 content hash.

    The frozen calendar snapshot (not the editable calendar row) and the MQL
    definition's rules are part of it, so neither can change under a signature.
    Commitments are listed by position; escalation rules name theirs by index.
    """
    commitments = sorted(version.commitments.all(), key=lambda c: (c.position, c.pk))
    index = {c.pk: i for i, c in enumerate(commitments)}
    definition = version.mql_definition
    rules = sorted(
        version.escalation_rules.all(), key=lambda r: (index.get(r.commitment_id, -1), r.pk)
    )
    return {
        "schema": CONTENT_SCHEMA,
        "contract_id": version.contract_id,
        "number": version.number,
        "purpose": version.purpose,
        "calendar": version.calendar_snapshot or {},
        "mql_definition": None
        if definition is None
        else {
            "id": definition.pk,
            "kind": definition.kind,
            "version": definition.version,
            "rules": definition.rules,
        },
        "effective_at": _iso(version.effective_at),
        "review_date": _iso(version.review_date),
        "commitments": [
            {
                "position": i,
                "owner_team": c.owner_team,
                "metric": c.metric,
                "params": c.params or {},
                "target": float(c.target),
                "yellow_threshold": float(c.yellow_threshold),
                "review_period": c.review_period,
                "segment": c.segment or [],
                "label": c.label,
            }
            for i, c in enumerate(commitments)
        ],
        "escalation_rules": [
            {
                "commitment": index.get(r.commitment_id),
                "threshold": float(r.threshold),
                "periods": r.periods,
                "period_kind": r.period_kind,
                "notify_role": r.notify_role,
            }
            for r in rules
        ],
    }


def version_content_hash(version: SlaVersion) -> str:
    return content_hash(version_content(version))


@dataclass(frozen=True)
class SignatureCheck:
    signature: Signature
    matches: bool


@dataclass(frozen=True)
class Verification:
    """Recomputed hash against the stored one and against every signature's."""

    computed_hash: str
    stored_hash: str
    signatures: tuple[SignatureCheck, ...]

    @property
    def is_intact(self) -> bool:
        """The content still hashes to what was submitted and every live signature signed it."""
        return (
            bool(self.stored_hash)
            and self.computed_hash == self.stored_hash
            and all(c.matches for c in self.signatures if c.signature.withdrawn_at is None)
        )


def version_verify(*, version: SlaVersion) -> Verification:
    """Recompute the content hash and compare it with the stored one and each signature's."""
    computed = version_content_hash(version)
    return Verification(
        computed_hash=computed,
        stored_hash=version.content_hash,
        signatures=tuple(
            SignatureCheck(signature=s, matches=s.content_hash == computed)
            for s in version.signatures.all()
        ),
    )


def version_changes(*, version: SlaVersion) -> QuerySet[SlaVersionChange]:
    return SlaVersionChange.objects.filter(version=version).select_related("author")


def version_diff(*, old: SlaVersion | None, new: SlaVersion) -> list[dict[str, Any]]:
    """What changed between two versions, line by line, in words: [{"what", "before", "after"}]."""
    before = version_content(old) if old is not None else None
    after = version_content(new)
    return content_diff(before, after)


def content_diff(before: dict | None, after: dict) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    before = before or {}

    def scalar(label: str, key: str, fmt=lambda v: v) -> None:
        a, b = before.get(key), after.get(key)
        if a != b:
            rows.append({"what": label, "before": fmt(a), "after": fmt(b)})

    scalar("Purpose", "purpose")
    scalar("Effective from", "effective_at", _instant_words)
    scalar("Review date", "review_date", _day_words)
    scalar(
        "MQL definition",
        "mql_definition",
        lambda d: f"v{d['version']} (#{d['id']})" if d else "none",
    )
    scalar(
        "Business calendar",
        "calendar",
        lambda c: calendar_summary(c) if c else "not frozen yet",
    )
    commitment_lines = (
        [commitment_sentence(c) for c in before.get("commitments", [])],
        [commitment_sentence(c) for c in after.get("commitments", [])],
    )
    escalation_lines = (
        [
            escalation_sentence(r, before.get("commitments", []))
            for r in before.get("escalation_rules", [])
        ],
        [
            escalation_sentence(r, after.get("commitments", []))
            for r in after.get("escalation_rules", [])
        ],
    )
    for what, (old, new) in (("Commitment", commitment_lines), ("Escalation", escalation_lines)):
        rows.extend({"what": what, "before": line, "after": ""} for line in old if line not in new)
        rows.extend({"what": what, "before": "", "after": line} for line in new if line not in old)
    return rows


def _instant_words(value: str | None) -> str:
    """A signed content's ISO instant as people read it, in the zone of the page."""
    if not value:
        return "not set"
    moment = timezone.localtime(datetime.fromisoformat(value))
    return f"{moment.day} {moment:%b %Y %H:%M %Z}"


def _day_words(value: str | None) -> str:
    if not value:
        return "not set"
    day = date.fromisoformat(value)
    return f"{day.day} {day:%b %Y}"


def commitment_sentence(c: dict[str, Any]) -> str:
    """The one-sentence form of a commitment (model or content dict)."""
    get = c.get if isinstance(c, dict) else lambda k, d=None: getattr(c, k, d)
    sentence = describe_commitment(
        owner_team=get("owner_team"),
        metric=get("metric"),
        params=get("params") or {},
        target=get("target"),
        yellow_threshold=get("yellow_threshold"),
        review_period=get("review_period"),
        segment=get("segment") or [],
    )
    label = get("label")
    return f"{label}: {sentence}" if label else sentence


def escalation_sentence(rule: dict[str, Any], commitments: list[dict[str, Any]]) -> str:
    index = rule.get("commitment")
    commitment = commitments[index] if index is not None and index < len(commitments) else {}
    label = commitment.get("label") or commitment.get("metric", "a commitment").replace("_", " ")
    return describe_escalation(
        commitment_label=label,
        metric=commitment.get("metric", ""),
        threshold=rule["threshold"],
        periods=rule["periods"],
        period_kind=rule["period_kind"],
        notify_role=rule["notify_role"],
    )


def calendar_summary(snapshot: dict[str, Any]) -> str:
    """ "Europe/London; Mon 09:00–17:00, …; holidays GB/ENG; 2 company days off"."""
    days = "; ".join(
        f"{name[:3]} {hours}" for name, hours in describe_week(snapshot.get("week") or [])
    )
    region = snapshot.get("holiday_country") or ""
    if region and snapshot.get("holiday_subdivision"):
        region += f"/{snapshot['holiday_subdivision']}"
    closed = len(snapshot.get("closed_dates") or [])
    parts = [snapshot.get("timezone", "UTC"), days]
    parts.append(f"public holidays {region}" if region else "no public holidays")
    if closed:
        parts.append(f"{closed} company day{'s' if closed != 1 else ''} off")
    return " · ".join(parts)


TIMELINE_ACTIONS = (
    "created",
    "submitted",
    "signatures_withdrawn",
    "signed",
    "activated",
    "superseded",
)


def version_timeline(*, versions) -> dict[int, list[SlaVersionChange]]:
    """The sign-off steps of each version (created, submitted, signed, …), one query for all."""
    timeline: dict[int, list[SlaVersionChange]] = {v.pk: [] for v in versions}
    for change in SlaVersionChange.objects.filter(
        version__in=list(timeline), action__in=TIMELINE_ACTIONS
    ).select_related("author"):
        timeline[change.version_id].append(change)
    return timeline


PREVIEW_DAYS = 120


def calendar_preview(
    *, calendar_data: dict[str, Any], arrival_wall_clock: datetime | None, hours: float
) -> dict[str, Any]:
    """What the calendar editor shows: when a lead arriving at a wall-clock time is due, and the
    days off ahead. {"problem": …} instead when the calendar is not usable."""
    try:
        calendar = calendar_from_json(calendar_data)
        zone = ZoneInfo(calendar.timezone)
        if arrival_wall_clock is None:
            arrival = datetime.now(tz=zone).replace(second=0, microsecond=0)
        else:
            arrival = arrival_wall_clock.replace(tzinfo=zone)
        due = business_time.add(calendar, arrival, timedelta(hours=hours))
    except business_time.CalendarError as error:
        return {"problem": str(error)}
    first = arrival.date()
    days_off = business_time.holidays_between(calendar, first, first + timedelta(days=PREVIEW_DAYS))
    return {
        "arrival": arrival,
        "due": due.astimezone(zone),
        "hours": hours,
        "zone": calendar.timezone,
        "elapsed": elapsed_words(due.astimezone(UTC) - arrival.astimezone(UTC)),
        "days_off": list(days_off.items())[:12],
        "preview_days": PREVIEW_DAYS,
    }
