"""Writes of the feedback loop: reason codes and dispositions (single and bulk), and the checks
of who may work a lead.

Dispositions are stored here and say which stage moves they imply; the hand-off
pipeline (apps/handoff) moves the stages (apps/leads/stages.py) and syncs the SLA
clocks in the same transaction, so the clocks follow the facts whatever order they
arrive in. Touches are Activities, stored by the pipeline's activity channel; this
module only checks who may log them on which lead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.roles import Capability, Role, roles_for
from apps.dispositions import selectors
from apps.dispositions.models import REASON_REQUIRED, Disposition, Outcome, ReasonCode
from apps.leads.models import SALES_TOUCH_KINDS, Lead, Stage, StageChange
from apps.leads.stages import StageMove
from apps.mql.models import MqlEvent

# Clocks of integrations drift a little; a disposition stamped a few minutes "in the
# future" by such a clock is not a future disposition (same tolerance as ingestion).
FUTURE_TOLERANCE = timedelta(minutes=5)
NOTE_MAX_LENGTH = 5000
LABEL_MAX_LENGTH = 120

# The stage each outcome moves the lead to (working: contacted, progressing, no move).
OUTCOME_STAGE = {
    Outcome.ACCEPTED: Stage.SQL,
    Outcome.REJECTED: Stage.DISQUALIFIED,
    Outcome.NURTURE: Stage.NURTURE,
}
# Stages a disposition may move a lead out of. An opportunity (or a closed deal)
# is the CRM's business: a late-imported disposition is recorded, not applied.
DISPOSABLE_STAGES = frozenset({Stage.LEAD, Stage.MQL, Stage.SQL, Stage.NURTURE, Stage.DISQUALIFIED})
# The disposition channel as the stage history names it.
STAGE_CHANNEL = {"web": "ui", "api": "api", "csv": "csv"}

REASON_CODE_EDITORS = roles_for(Capability.REASON_CODES)
# Dispositions given by these roles (on reps' leads) also go to the audit log; a rep's own
# dispositions are the lead's timeline and the feedback page.
LEADER_ROLES = frozenset({Role.SALES_LEADER, Role.ADMIN})


# --- reason codes ------------------------------------------------------------


def _require_reason_code_editor(actor) -> None:
    if getattr(actor, "role", None) not in REASON_CODE_EDITORS:
        raise NotAllowed("Only sales leaders and admins manage reason codes.")


def _clean_label(label: str) -> str:
    label = " ".join((label or "").split())
    if not label:
        raise DomainError("Give the reason a name.", field="label")
    if len(label) > LABEL_MAX_LENGTH:
        raise DomainError(f"Keep it under {LABEL_MAX_LENGTH} characters.", field="label")
    return label


def _require_unique_label(*, label: str, outcome: str, exclude_pk: int | None = None) -> None:
    clash = ReasonCode.objects.filter(
        outcome=outcome, label__iexact=label, retired_at__isnull=True
    ).exclude(pk=exclude_pk)
    if clash.exists():
        raise DomainError(f"“{label}” already exists for this outcome.", field="label")


@transaction.atomic
def reason_code_create(*, label: str, outcome: str, actor) -> ReasonCode:
    """Add a live reason code at the end of its outcome's list."""
    _require_reason_code_editor(actor)
    if outcome not in REASON_REQUIRED:
        raise DomainError("Reason codes belong to “rejected” or “nurture”.", field="outcome")
    label = _clean_label(label)
    _require_unique_label(label=label, outcome=outcome)
    last = ReasonCode.objects.filter(outcome=outcome).aggregate(last=Max("position"))["last"]
    try:
        with transaction.atomic():
            code = ReasonCode.objects.create(
                label=label, outcome=outcome, position=0 if last is None else last + 1
            )
    except IntegrityError as exc:  # the same label created concurrently
        raise DomainError(f"“{label}” already exists for this outcome.", field="label") from exc
    audit_record(actor=actor, action="reason_code.created", target=label, outcome=outcome)
    return code


@transaction.atomic
def reason_code_rename(*, reason_code: ReasonCode, label: str, actor) -> ReasonCode:
    """Rename a code; old dispositions show the new name (it is the same reason)."""
    _require_reason_code_editor(actor)
    label = _clean_label(label)
    _require_unique_label(label=label, outcome=reason_code.outcome, exclude_pk=reason_code.pk)
    before = reason_code.label
    reason_code.label = label
    try:
        with transaction.atomic():
            reason_code.save(update_fields=["label"])
    except IntegrityError as exc:  # the same label created concurrently
        raise DomainError(f"“{label}” already exists for this outcome.", field="label") from exc
    if label != before:
        audit_record(
            actor=actor,
            action="reason_code.renamed",
            target=label,
            outcome=reason_code.outcome,
            before=before,
        )
    return reason_code


@transaction.atomic
def reason_codes_reorder(*, outcome: str, ordered_ids: Sequence[int], actor) -> list[ReasonCode]:
    """Set the order of an outcome's live codes; `ordered_ids` must list exactly those codes."""
    _require_reason_code_editor(actor)
    codes = {
        code.pk: code
        for code in ReasonCode.objects.select_for_update().filter(
            outcome=outcome, retired_at__isnull=True
        )
    }
    if sorted(ordered_ids) != sorted(codes) or len(set(ordered_ids)) != len(ordered_ids):
        live = ", ".join(str(pk) for pk in sorted(codes)) or "none"
        raise Conflict(
            f"List every live “{outcome}” code exactly once, in the new order (live ids: "
            f"{live}); the list may have changed meanwhile, so read it again and retry.",
            field="ordered_ids",
        )
    ordered = [codes[pk] for pk in ordered_ids]
    before = sorted(codes.values(), key=lambda code: (code.position, code.pk))
    for position, code in enumerate(ordered):
        code.position = position
    ReasonCode.objects.bulk_update(ordered, ["position"])
    if [code.pk for code in before] != list(ordered_ids):
        audit_record(
            actor=actor,
            action="reason_code.reordered",
            target=outcome,
            outcome=outcome,
            order=[code.label for code in ordered],
        )
    return ordered


def reason_code_move(*, reason_code: ReasonCode, offset: int, actor) -> list[ReasonCode]:
    """Move a live code up (-1) or down (+1) its list: the keyboard-friendly reorder."""
    if reason_code.retired_at is not None:
        raise Conflict("Retired codes are not in the list.", field="reason_code")
    ids = list(
        ReasonCode.objects.filter(outcome=reason_code.outcome, retired_at__isnull=True)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )
    index = ids.index(reason_code.pk)
    target = min(max(index + offset, 0), len(ids) - 1)
    ids.insert(target, ids.pop(index))
    return reason_codes_reorder(outcome=reason_code.outcome, ordered_ids=ids, actor=actor)


@transaction.atomic
def reason_code_retire(
    *, reason_code: ReasonCode, actor, now: datetime | None = None
) -> ReasonCode:
    """Stop offering a code; dispositions that used it keep it (and stay valid)."""
    _require_reason_code_editor(actor)
    if reason_code.retired_at is None:
        reason_code.retired_at = now or timezone.now()
        reason_code.save(update_fields=["retired_at"])
        audit_record(
            actor=actor,
            action="reason_code.retired",
            target=reason_code.label,
            outcome=reason_code.outcome,
        )
    return reason_code


@transaction.atomic
def reason_code_restore(*, reason_code: ReasonCode, actor) -> ReasonCode:
    """Offer a retired code again, at the end of its list."""
    _require_reason_code_editor(actor)
    if reason_code.retired_at is None:
        return reason_code
    _require_unique_label(
        label=reason_code.label, outcome=reason_code.outcome, exclude_pk=reason_code.pk
    )
    last = ReasonCode.objects.filter(
        outcome=reason_code.outcome, retired_at__isnull=True
    ).aggregate(last=Max("position"))["last"]
    reason_code.retired_at = None
    reason_code.position = 0 if last is None else last + 1
    try:
        with transaction.atomic():
            reason_code.save(update_fields=["retired_at", "position"])
    except IntegrityError as exc:  # a same-named code created concurrently
        raise DomainError(f"“{reason_code.label}” already exists.", field="label") from exc
    audit_record(
        actor=actor,
        action="reason_code.restored",
        target=reason_code.label,
        outcome=reason_code.outcome,
    )
    return reason_code


# --- dispositions ------------------------------------------------------------


def require_may_work_lead(*, lead: Lead, actor) -> None:
    """NotAllowed unless the actor may log touches and dispositions on the lead."""
    if not selectors.is_lead_workable_by(lead=lead, user=actor):
        if getattr(actor, "role", None) == Role.REP:
            raise NotAllowed("You can only work leads you own.", field="lead")
        raise NotAllowed("Only the lead's rep or a sales leader can do this.", field="lead")


def _validated_moment(occurred_at: datetime | None, now: datetime) -> datetime:
    if occurred_at is None:
        return now
    if timezone.is_naive(occurred_at):
        raise DomainError("Give the time with its UTC offset.", field="occurred_at")
    if occurred_at > now + FUTURE_TOLERANCE:
        raise DomainError("A disposition cannot be dated in the future.", field="occurred_at")
    return occurred_at


def _validated_reason(
    *, outcome: str, reason_code: ReasonCode | None, occurred_at: datetime
) -> ReasonCode | None:
    if outcome in REASON_REQUIRED:
        if reason_code is None:
            verb = "rejecting" if outcome == Outcome.REJECTED else "returning it to nurture"
            raise DomainError(f"Pick a reason code when {verb}.", field="reason_code")
        if reason_code.outcome != outcome:
            raise DomainError(
                f"“{reason_code.label}” is a reason for {reason_code.get_outcome_display().lower()},"
                f" not for {Outcome(outcome).label.lower()}.",
                field="reason_code",
            )
        # A retired code stays valid for what happened while it was offered
        # (history imported later), never for anything newer.
        if reason_code.retired_at is not None and occurred_at >= reason_code.retired_at:
            raise DomainError(f"“{reason_code.label}” has been retired.", field="reason_code")
        return reason_code
    if reason_code is not None:
        raise DomainError(f"“{Outcome(outcome).label}” takes no reason code.", field="reason_code")
    return None


@dataclass
class _LeadState:
    """A lead locked for its dispositions, with what deciding "is this the latest?" and "which
    MQL does it answer?" needs, read once for a whole batch."""

    lead: Lead
    mql_events: list[MqlEvent] = field(default_factory=list)  # oldest first
    latest_at: datetime | None = None  # the latest disposition's occurred_at

    def mql_event_at(self, moment: datetime) -> MqlEvent | None:
        found = None
        for event in self.mql_events:
            if event.qualified_at <= moment:
                found = event
        return found


def _lock_leads(lead_ids: Sequence[int]) -> dict[int, _LeadState]:
    """Lock the leads (in id order, so concurrent batches cannot deadlock) and read their MQL
    events and latest disposition time: three queries, whatever the batch size."""
    ids = sorted(set(lead_ids))
    states = {
        lead.pk: _LeadState(lead=lead)
        for lead in Lead.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    for event in (
        MqlEvent.objects.filter(lead_id__in=ids)
        .only("id", "lead_id", "qualified_at")
        .order_by("qualified_at", "id")
    ):
        states[event.lead_id].mql_events.append(event)
    for row in (
        Disposition.objects.filter(lead_id__in=ids)
        .order_by()
        .values("lead_id")
        .annotate(latest=Max("occurred_at"))
    ):
        states[row["lead_id"]].latest_at = row["latest"]
    return states


def _known_external_ids(external_ids: Sequence[str | None]) -> dict[str, Disposition]:
    wanted = {external_id for external_id in external_ids if external_id}
    if not wanted:
        return {}
    return {d.external_id: d for d in Disposition.objects.filter(external_id__in=wanted)}


def _disposition_record(
    *,
    state: _LeadState,
    outcome: str,
    reason_code: ReasonCode | None,
    note: str,
    actor,
    occurred_at: datetime | None,
    channel: str,
    external_id: str | None,
    known: dict[str, Disposition],
    now: datetime,
) -> tuple[Disposition, bool, StageMove | None]:
    """Validate and store one disposition on a locked lead: (disposition, created, stage move).

    Every check runs before the first write. The stage move it implies is returned, not
    applied: the caller hands the batch's moves to the pipeline (which also syncs the clocks).
    """
    lead = state.lead
    if external_id and external_id in known:
        existing = known[external_id]
        if existing.lead_id != lead.pk:
            raise Conflict(
                "This external_id belongs to a disposition of another lead.", field="external_id"
            )
        return existing, False, None
    if outcome not in Outcome.values:
        raise DomainError(f"Choose one of: {', '.join(Outcome.values)}.", field="outcome")
    require_may_work_lead(lead=lead, actor=actor)
    occurred_at = _validated_moment(occurred_at, now)
    reason_code = _validated_reason(
        outcome=outcome, reason_code=reason_code, occurred_at=occurred_at
    )
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise DomainError(f"Keep the note under {NOTE_MAX_LENGTH} characters.", field="note")

    # The latest disposition before this one decides whether this one is applied.
    was_latest_at = state.latest_at
    disposition = Disposition.objects.create(
        lead=lead,
        mql_event=state.mql_event_at(occurred_at),
        outcome=outcome,
        reason_code=reason_code,
        note=note,
        actor=actor if getattr(actor, "pk", None) else None,
        occurred_at=occurred_at,
        external_id=external_id or None,
        channel=channel,
        recorded_at=now,
    )
    if external_id:
        known[external_id] = disposition
    state.latest_at = max(filter(None, (was_latest_at, occurred_at)))
    return (
        disposition,
        True,
        _stage_move(lead=lead, disposition=disposition, latest_before=was_latest_at),
    )


def _stage_move(
    *, lead: Lead, disposition: Disposition, latest_before: datetime | None
) -> StageMove | None:
    """The move of the lead when this disposition is its latest and belongs to its current MQL.

    A back-dated disposition older than the latest one, or older than the lead's
    current MQL (it re-qualified since), is history: kept, not applied. (A batch's
    earlier moves never change the answer: dispositions only move a lead between
    stages it may be disposed from.)
    """
    target = OUTCOME_STAGE.get(disposition.outcome)
    if target is None or lead.stage not in DISPOSABLE_STAGES:
        return None
    if lead.mql_at is not None and disposition.occurred_at < lead.mql_at:
        return None
    if latest_before is not None and latest_before > disposition.occurred_at:
        return None
    return StageMove(
        lead_id=lead.pk,
        to_stage=target,
        occurred_at=disposition.occurred_at,
        channel=STAGE_CHANNEL.get(disposition.channel, "system"),
        actor_id=disposition.actor_id,
    )


@dataclass(frozen=True)
class Recorded:
    """What storing dispositions implies for the hand-off: stage moves on the locked leads,
    and the leads with a new disposition (their SLA clocks read it)."""

    leads: dict[int, Lead] = field(default_factory=dict)
    moves: list[StageMove] = field(default_factory=list)
    lead_ids: list[int] = field(default_factory=list)


def disposition_store(
    *,
    lead: Lead,
    outcome: str,
    reason_code: ReasonCode | None = None,
    note: str = "",
    actor,
    occurred_at: datetime | None = None,
    channel: str = "web",
    external_id: str | None = None,
    now: datetime | None = None,
) -> tuple[Disposition, Recorded]:
    """Store sales feedback on an MQL; say which stage move it implies (call in a transaction).

    Rejected and nurture need a reason code of that outcome; `occurred_at` may be
    back-dated (API, import) but not in the future; the same `external_id` twice
    returns the stored disposition unchanged. A rep works only their own leads,
    a sales leader the team's.
    """
    # One disposition at a time per lead, so "is this the latest?" has one answer.
    state = _lock_leads([lead.pk])[lead.pk]
    try:
        disposition, created, move = _disposition_record(
            state=state,
            outcome=outcome,
            reason_code=reason_code,
            note=note,
            actor=actor,
            occurred_at=occurred_at,
            channel=channel,
            external_id=external_id,
            known=_known_external_ids([external_id]),
            now=now or timezone.now(),
        )
    except IntegrityError as exc:  # the same external_id sent twice at the same moment
        raise Conflict(
            "This external_id was just recorded by another request.", field="external_id"
        ) from exc
    if created and getattr(actor, "role", None) in LEADER_ROLES:
        audit_record(actor=actor, action="disposition.given", target=str(lead), outcome=outcome, reason=reason_code.label if reason_code else "")  # fmt: skip
    return disposition, Recorded(
        leads={lead.pk: state.lead},
        moves=[move] if move else [],
        lead_ids=[lead.pk] if created else [],
    )


# How long after giving it a person may take a disposition back (the queue offers Undo for
# a few seconds; the server allows for a slow network on top).
UNDO_WINDOW = timedelta(seconds=30)


@dataclass(frozen=True)
class TakenBack:
    """A disposition taken back: the lead (locked) and the stage change the disposition made,
    which the hand-off undoes before it syncs the lead's clocks."""

    disposition: Disposition
    lead: Lead
    stage_change: StageChange | None


def disposition_take_back(
    *, disposition: Disposition, actor, now: datetime | None = None
) -> TakenBack:
    """Delete a disposition given moments ago (the queue's Undo after a one-key disposition)
    and say which stage move to take back (call in a transaction: apps/handoff's
    disposition_undo). Only its author, only within UNDO_WINDOW, and only while it is still
    the lead's latest word; the audit log records both the disposition and its undoing."""
    now = now or timezone.now()
    state = _lock_leads([disposition.lead_id]).get(disposition.lead_id)
    current = (
        Disposition.objects.select_related("reason_code", "lead").filter(pk=disposition.pk).first()
    )
    if state is None or current is None:
        raise Conflict("This disposition is no longer there: nothing to undo.", field="disposition")
    if current.actor_id is None or current.actor_id != getattr(actor, "pk", None):
        raise NotAllowed("Only the person who gave a disposition can undo it.", field="disposition")
    if current.recorded_at < now - UNDO_WINDOW:
        raise Conflict(
            "Too late to undo: give the lead a new disposition instead.", field="disposition"
        )
    latest = Disposition.objects.filter(lead_id=current.lead_id).order_by("-occurred_at", "-id")
    if latest.values_list("pk", flat=True).first() != current.pk:
        raise Conflict(
            "A newer disposition was given since; this one can no longer be undone.",
            field="disposition",
        )
    lead = state.lead
    target = OUTCOME_STAGE.get(current.outcome)
    moved = None
    if target is not None:
        moved = (
            StageChange.objects.filter(lead=lead, to_stage=target, occurred_at=current.occurred_at)
            .order_by("-id")
            .first()
        )
    audit_record(
        actor=actor,
        action="disposition.undone",
        target=str(lead),
        outcome=current.outcome,
        reason=current.reason_code.label if current.reason_code else "",
        given_at=current.occurred_at.isoformat(),
    )
    current.delete()
    return TakenBack(disposition=current, lead=lead, stage_change=moved)


@dataclass(frozen=True)
class DispositionItem:
    """One disposition of a bulk request. `lead`: a Lead or its external_id; `reason_code`: a
    ReasonCode, its id or its label; `actor_email`: who decided (integrations only)."""

    lead: Lead | str
    outcome: str
    reason_code: ReasonCode | int | str | None = None
    note: str = ""
    occurred_at: datetime | None = None
    external_id: str | None = None
    actor_email: str | None = None


@dataclass(frozen=True)
class ItemResult:
    index: int
    status: str  # created | unchanged | rejected
    disposition: Disposition | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkReport:
    results: list[ItemResult]

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def rejected(self) -> int:
        return self.count("rejected")


def dispositions_store(
    *,
    items: Sequence[DispositionItem],
    principal,
    channel: str = "api",
    now: datetime | None = None,
) -> tuple[BulkReport, Recorded]:
    """Store many dispositions (call in a transaction); each item stands alone (a bad one is
    reported by index with its field errors, the others are stored). Leads, users and reason
    codes are read in three queries; the stage moves of the batch are returned in order."""
    now = now or timezone.now()
    context = selectors.bulk_lookup(
        lead_keys=[item.lead for item in items],
        actor_emails=[item.actor_email for item in items if item.actor_email],
    )
    resolved: list[Lead | DomainError] = []
    for item in items:
        try:
            resolved.append(context.lead(item.lead))
        except DomainError as exc:
            resolved.append(exc)
    states = _lock_leads([lead.pk for lead in resolved if isinstance(lead, Lead)])
    known = _known_external_ids([item.external_id for item in items])
    results: list[ItemResult] = []
    moves: list[StageMove] = []
    touched: set[int] = set()
    for index, (item, lead) in enumerate(zip(items, resolved, strict=True)):
        try:
            if isinstance(lead, DomainError):
                raise lead
            actor = context.actor(principal=principal, email=item.actor_email)
            reason = context.reason_code(item.reason_code, outcome=item.outcome)
            # A savepoint per item: a failing insert (an external_id sent concurrently)
            # must not poison the others.
            with transaction.atomic():
                disposition, created, move = _disposition_record(
                    state=states[lead.pk],
                    outcome=item.outcome,
                    reason_code=reason,
                    note=item.note,
                    actor=actor,
                    occurred_at=item.occurred_at,
                    channel=channel,
                    external_id=item.external_id,
                    known=known,
                    now=now,
                )
        except IntegrityError:
            error = Conflict(
                "This external_id was just recorded by another request.", field="external_id"
            )
            results.append(ItemResult(index=index, status="rejected", errors=error.as_dict()))
            continue
        except DomainError as exc:
            results.append(ItemResult(index=index, status="rejected", errors=exc.as_dict()))
            continue
        if created:
            touched.add(lead.pk)
        if move is not None:
            moves.append(move)
        results.append(
            ItemResult(
                index=index,
                status="created" if created else "unchanged",
                disposition=disposition,
            )
        )
    if touched and getattr(principal, "role", None) in LEADER_ROLES:
        audit_record(actor=principal, action="disposition.bulk_given", target=f"{len(touched)} leads", outcomes=sorted({item.outcome for item in items}))  # fmt: skip
    recorded = Recorded(
        leads={pk: state.lead for pk, state in states.items()},
        moves=moves,
        lead_ids=sorted(touched),
    )
    return BulkReport(results=results), recorded


# --- touches -----------------------------------------------------------------


def touch_check(*, lead: Lead, kind: str, actor, note: str = "") -> str:
    """Check that the actor may log this sales touch on the lead; returns the cleaned note.

    The touch itself is stored by the pipeline's activity channel (the single write path).
    """
    if kind not in SALES_TOUCH_KINDS:
        raise DomainError("Choose call, email, meeting, SMS or social.", field="kind")
    require_may_work_lead(lead=lead, actor=actor)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise DomainError(f"Keep the note under {NOTE_MAX_LENGTH} characters.", field="note")
    return note
