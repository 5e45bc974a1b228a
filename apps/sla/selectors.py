"""Reads of the SLA app: the version in force, calendars, clocks, history and verification."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from apps.sla import business_time, sealing
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
        "contract", "calendar", "mql_definition", "created_by", "based_on"
    ).prefetch_related(
        Prefetch("commitments", queryset=Commitment.objects.order_by("position", "id")),
        Prefetch(
            "escalation_rules",
            queryset=EscalationRule.objects.select_related("commitment").order_by("id"),
        ),
        Prefetch(
            "signatures",
            queryset=Signature.objects.select_related("signer", "version").order_by(
                "signed_at", "id"
            ),
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


# --- keyed, chained evidence (apps/sla/sealing.py) --------------------------------------

SIGNED_STATUSES = (VersionStatus.ACTIVE, VersionStatus.SUPERSEDED)


def signing_key_ring() -> sealing.KeyRing:
    """The configured signing keys (SLA_SIGNING_KEYS), the current one first."""
    return sealing.parse_keys(settings.SLA_SIGNING_KEYS)


def canonical_ip(value: str | None) -> str | None:
    """One spelling per address, so a MAC made at signing matches the value read back."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value).split("/")[0]))
    except ValueError:
        return str(value)


def signature_payload(signature: Signature, *, version: SlaVersion) -> dict[str, Any]:
    """What ``signature``'s MAC covers, from its stored fields."""
    return sealing.signature_payload(
        sequence=signature.sequence or 0,
        version_id=version.pk,
        contract_id=version.contract_id,
        number=version.number,
        round_=signature.round,
        team=signature.team,
        role=signature.role,
        signer_id=signature.signer_id,
        signed_at=_iso(signature.signed_at),
        channel=signature.channel,
        ip_address=canonical_ip(signature.ip_address),
        user_agent=signature.user_agent,
        content_hash=signature.content_hash,
        previous_mac=signature.previous_mac,
    )


def seal_payload(version: SlaVersion, signatures: Sequence[Signature]) -> dict[str, Any]:
    """What ``version``'s seal covers: its sign-off state and its chained signatures.

    A draft's content and dates are free to change, so they are left out until it is
    submitted again.
    """
    chained = sorted((s for s in signatures if s.sequence), key=lambda s: s.sequence)
    draft = version.status == VersionStatus.DRAFT
    return sealing.seal_payload(
        version_id=version.pk,
        contract_id=version.contract_id,
        number=version.number,
        status=version.status,
        round_=version.signing_round,
        content_hash="" if draft else version.content_hash,
        effective_at=None if draft else _iso(version.effective_at),
        superseded_at=_iso(version.superseded_at),
        submitted_at=None if draft else _iso(version.submitted_at),
        activated_at=_iso(version.activated_at),
        signature_sequences=[s.sequence for s in chained],
        head_mac=chained[-1].mac if chained else "",
    )


def is_sealable(version: SlaVersion) -> bool:
    """Whether the version ever entered sign-off (so it must carry a seal)."""
    return version.status != VersionStatus.DRAFT or version.signing_round > 0


def live_signatures(version: SlaVersion, signatures: Sequence[Signature]) -> list[Signature]:
    """The signatures of the version's current signing round (none while it is a draft)."""
    if version.status == VersionStatus.DRAFT:
        return []
    return [s for s in signatures if s.round == version.signing_round]


@dataclass(frozen=True)
class SignatureCheck:
    signature: Signature
    live: bool
    matches: bool  # signed the content as it hashes now
    authentic: bool | None  # its MAC verifies (None: unsealed, or signed with an unknown key)
    linked: bool  # it follows the signature before it in the chain


@dataclass(frozen=True)
class Problem:
    """One finding of a verification: ``code`` for machines, ``message`` for people."""

    code: str
    message: str
    signature: int | None = None


PROBLEM_CODES = (
    "content_changed",  # the content no longer hashes to what was submitted
    "seal_broken",  # status, round, dates or signature list changed outside the app
    "not_sealed",  # signed before keyed signatures: run manage.py sla_seal
    "unknown_key",  # made with a key id that is not configured
    "signature_altered",  # a signature's fields changed
    "signature_added",  # a signature the app never made
    "signature_missing",  # a signature was removed
    "chain_broken",  # a signature does not follow the one before it
    "key_out_of_order",  # signed with an older key after a newer one was in use
    "superseded_without_successor",  # marked superseded, but no signed version took over
)


@dataclass(frozen=True)
class Verification:
    """Recomputed hash, seal and signature chain, and what (if anything) does not hold."""

    computed_hash: str
    stored_hash: str
    signatures: tuple[SignatureCheck, ...]
    problems: tuple[Problem, ...]
    sealed: bool

    @property
    def is_intact(self) -> bool:
        """Submitted content that still hashes to what was signed, with every link of its
        evidence verifying under the keys."""
        return bool(self.stored_hash) and not self.problems


def version_verify(*, version: SlaVersion) -> Verification:
    """Check a version's evidence: content hash, seal, each signature's MAC and chain link.

    Reports each finding (see PROBLEM_CODES), naming the signature it concerns.
    """
    ring = signing_key_ring()
    computed = version_content_hash(version)
    signatures = sorted(
        version.signatures.all(), key=lambda s: (s.sequence is None, s.sequence or 0, s.pk)
    )
    problems: list[Problem] = []
    submitted = version.status != VersionStatus.DRAFT
    if submitted and version.content_hash != computed:
        problems.append(
            Problem(
                "content_changed",
                f"The content now hashes to {computed[:12]}…, but it was submitted as "
                f"{(version.content_hash or 'nothing')[:12]}…: it changed after submission.",
            )
        )

    sealed_list = set(version.sealed_signatures or [])
    if is_sealable(version):
        if not version.seal:
            problems.append(
                Problem(
                    "not_sealed",
                    "This version has no seal: it entered sign-off before signatures were "
                    "keyed (run manage.py sla_seal once), or its seal was removed.",
                )
            )
        else:
            payload = seal_payload(version, signatures)
            valid = sealing.mac_matches(ring, version.seal_key_id, payload, version.seal)
            if valid is None:
                problems.append(
                    Problem(
                        "unknown_key",
                        f"The version was sealed with key “{version.seal_key_id}”, which is not "
                        "configured: it cannot be checked.",
                    )
                )
            elif not valid:
                problems.append(
                    Problem(
                        "seal_broken",
                        "The version's sign-off record (status, round, dates or its list of "
                        "signatures) was changed outside the app.",
                    )
                )
            present = {s.sequence for s in signatures if s.sequence}
            problems.extend(
                Problem(
                    "signature_missing",
                    f"Signature #{missing} of this version's sign-off is missing.",
                    signature=None,
                )
                for missing in sorted(sealed_list - present)
            )

    predecessors = {
        s.sequence: s
        for s in Signature.objects.filter(
            sequence__in=[s.sequence - 1 for s in signatures if s.sequence and s.sequence > 1]
        )
    }
    live = {s.pk for s in live_signatures(version, signatures)}
    checks = []
    for signature in signatures:
        authentic: bool | None = None
        linked = True
        if not signature.mac or signature.sequence is None:
            problems.append(
                Problem(
                    "not_sealed",
                    f"The {signature.team} signature of {signature.signed_at:%Y-%m-%d} has no MAC: "
                    "it was made before signatures were keyed (run manage.py sla_seal once).",
                    signature.pk,
                )
            )
        else:
            authentic = sealing.mac_matches(
                ring,
                signature.key_id,
                signature_payload(signature, version=version),
                signature.mac,
            )
            label = f"Signature #{signature.sequence} ({signature.team})"
            if authentic is None:
                problems.append(
                    Problem(
                        "unknown_key",
                        f"{label} was made with key “{signature.key_id}”, which is not "
                        "configured: it cannot be checked.",
                        signature.pk,
                    )
                )
            elif not authentic:
                added = version.seal and signature.sequence not in sealed_list
                problems.append(
                    Problem(
                        "signature_added" if added else "signature_altered",
                        f"{label} was not made by the app: it was added outside it."
                        if added
                        else f"{label} was changed after it was made: its MAC does not match.",
                        signature.pk,
                    )
                )
            if signature.sequence > 1:
                before = predecessors.get(signature.sequence - 1)
                if before is None:
                    linked = False
                    problems.append(
                        Problem(
                            "signature_missing",
                            f"Signature #{signature.sequence - 1}, the one before {label} in the "
                            "organization's chain, is missing.",
                            signature.pk,
                        )
                    )
                elif before.mac != signature.previous_mac:
                    linked = False
                    problems.append(
                        Problem(
                            "chain_broken",
                            f"{label} does not follow signature #{before.sequence}: the one it "
                            "was chained to was replaced.",
                            signature.pk,
                        )
                    )
                else:
                    older, newer = ring.rank(signature.key_id), ring.rank(before.key_id)
                    if older is not None and newer is not None and older > newer:
                        problems.append(
                            Problem(
                                "key_out_of_order",
                                f"{label} was made with the retired key “{signature.key_id}” "
                                f"after key “{before.key_id}” was in use.",
                                signature.pk,
                            )
                        )
            elif signature.previous_mac:
                linked = False
        is_live = signature.pk in live
        matches = signature.content_hash == computed
        if is_live and signature.content_hash != version.content_hash:
            problems.append(
                Problem(
                    "content_changed",
                    f"The {signature.team} signature is for content {signature.content_hash[:12]}…, "
                    f"not the submitted {version.content_hash[:12]}….",
                    signature.pk,
                )
            )
        checks.append(
            SignatureCheck(
                signature=signature,
                live=is_live,
                matches=matches,
                authentic=authentic,
                linked=linked,
            )
        )

    if version.status in SIGNED_STATUSES:
        teams = {s.team for s in signatures if s.pk in live}
        problems.extend(
            Problem(
                "signature_missing",
                f"The version is {version.get_status_display().lower()} but has no "
                f"{team} signature in its signing round.",
            )
            for team in ("marketing", "sales")
            if team not in teams
        )
    if version.status == VersionStatus.SUPERSEDED:
        successor = (
            SlaVersion.objects.filter(
                status__in=SIGNED_STATUSES, effective_at=version.superseded_at
            )
            .exclude(pk=version.pk)
            .exists()
        )
        if not successor:
            problems.append(
                Problem(
                    "superseded_without_successor",
                    "The version is marked superseded, but no signed version takes over at "
                    f"{_iso(version.superseded_at) or 'any time'}.",
                )
            )
    return Verification(
        computed_hash=computed,
        stored_hash=version.content_hash,
        signatures=tuple(checks),
        problems=tuple(problems),
        sealed=bool(version.seal),
    )


# --- which version governs when ------------------------------------------------------


def version_outdated_by(version: SlaVersion) -> SlaVersion | None:
    """The signed version that makes an unsigned ``version`` outdated, or None.

    A version is outdated when another version was signed after the one it was drafted
    against (or, drafted against nothing, after it was started): signing it would
    silently replace what the leaders agreed since.
    """
    if version.is_signed:
        return None
    base = version.based_on
    since = base.activated_at if base is not None and base.activated_at else version.created_at
    newer = SlaVersion.objects.filter(status__in=SIGNED_STATUSES, activated_at__gt=since).exclude(
        pk=version.pk
    )
    if base is not None:
        newer = newer.exclude(pk=base.pk)
    return newer.select_related("contract").order_by("-activated_at", "-id").first()


def latest_signed_version() -> SlaVersion | None:
    """The version signed last (whatever its dates): what a new draft is drafted against."""
    return (
        SlaVersion.objects.filter(status__in=SIGNED_STATUSES, activated_at__isnull=False)
        .order_by("-activated_at", "-id")
        .first()
    )


def version_scheduled(*, now: datetime | None = None) -> SlaVersion | None:
    """The signed version that takes over next (effective after ``now``), or None."""
    now = now or timezone.now()
    return (
        SlaVersion.objects.filter(status__in=SIGNED_STATUSES, effective_at__gt=now)
        .filter(Q(superseded_at__isnull=True) | Q(superseded_at__gt=F("effective_at")))
        .select_related("contract")
        .order_by("effective_at", "id")
        .first()
    )


@dataclass(frozen=True)
class Phase:
    """Where a version stands now, in words: ``key`` is in_force, scheduled, ended, never,
    draft, awaiting or outdated."""

    key: str
    label: str
    since: datetime | None = None
    until: datetime | None = None


def version_phase(version: SlaVersion, *, now: datetime | None = None) -> Phase:
    """In force now, scheduled, ended, never in force (cut before it started), or unsigned."""
    now = now or timezone.now()
    if not version.is_signed:
        if version.status == VersionStatus.AWAITING_SIGNATURES:
            return Phase("awaiting", "Awaiting signatures")
        return Phase("draft", "Draft")
    start, end = version.effective_at, version.superseded_at
    if end is not None and start is not None and end <= start:
        return Phase("never", "Never in force (replaced before it started)")
    if start is not None and start > now:
        return Phase("scheduled", "Scheduled", since=start, until=end)
    if end is not None and end <= now:
        return Phase("ended", "Superseded", since=start, until=end)
    return Phase("in_force", "In force", since=start, until=end)


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
    *,
    calendar_data: dict[str, Any],
    arrival_wall_clock: datetime | None,
    hours: float,
    arrival_at: datetime | None = None,
    mode: str = business_time.BUSINESS,
) -> dict[str, Any]:
    """What the calendar editor (and the API) shows: when a lead arriving at a wall-clock time
    in the calendar's zone, or at the instant ``arrival_at``, is due after ``hours`` of business
    (or, with ``mode`` calendar, elapsed) time, and the days off ahead. {"problem": …} instead
    when the calendar is not usable."""
    try:
        calendar = calendar_from_json(calendar_data, mode=mode)
        zone = ZoneInfo(calendar.timezone)
        if arrival_at is not None:
            arrival = arrival_at.astimezone(zone)
        elif arrival_wall_clock is None:
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
        "elapsed": due.astimezone(UTC) - arrival.astimezone(UTC),
        "elapsed_words": elapsed_words(due.astimezone(UTC) - arrival.astimezone(UTC)),
        "days_off": list(days_off.items())[:12],
        "preview_days": PREVIEW_DAYS,
    }
