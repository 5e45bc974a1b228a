"""Writes of the MQL engine: qualification of leads, definition drafts, publishing, comments, back-tests.

Qualification rules (leads_qualify):
- Only leads in stage `lead` (never qualified before) or `nurture` are evaluated.
  Leads in mql/sql/opportunity/won/lost stay as they are: once an MQL, always an
  MQL, even as its score decays. `disqualified` leads never re-qualify: sales
  rejected them with a reason; bringing one back is a deliberate stage move.
- A lead in `nurture` qualifies again only on facts newer than its return to
  marketing: the activities it had before the return were already judged by
  sales, so only activities after the return count, and the new MQL event is
  dated no earlier than the first new fact (activity or field change), nor than
  the later of the return and `fields_changed_at`.
- `not_before` is also `lead.fields_changed_at`: we only know the lead's current
  fields, so a qualification cannot be dated before they were true.
- The active MQL and the active PQL definition are both evaluated; the earlier
  qualification wins (MQL on a tie) and is the hand-off. A PQL event moves the lead
  to stage `mql` like an MQL does: for sales both are "a qualified lead to work".
- `mql_at` is the moment the stored facts, walked in time order, first met the
  definition; the same facts delivered in any order give the same moment.
- Across batches too: when an ingest stores an activity older than the latest MQL
  event of a lead that is already an MQL (or further on), that event is walked again
  under its own definition version and the bounds it was first evaluated under; if
  the facts met the definition earlier, the event, the lead's mql_at, the stage
  change into mql and the SLA clocks move to that moment (re-dated, never later),
  and the event keeps the moment it moved from (at the same moment, only its score
  and explanation follow the late facts). Events before a return to nurture are
  closed history and never move.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.roles import Role
from apps.accounts.services import audit_record
from apps.leads.models import Lead, Stage, StageChange
from apps.mql.backtest import LeadHistory, Tally
from apps.mql.models import (
    BacktestRun,
    BacktestStatus,
    DefinitionComment,
    DefinitionKind,
    DefinitionStatus,
    MqlDefinition,
    MqlEvent,
)
from apps.mql.rules import (
    ActivityFact,
    Definition,
    DefinitionError,
    Qualification,
    first_qualification,
    parse_definition,
)
from apps.mql.selectors import (
    activity_facts_by_lead,
    backtest_lead_chunks,
    backtest_lead_scope,
    definition_active_map,
    definition_parsed,
    evaluation_as_dict,
    lead_fields,
    signal_kinds,
)

PUBLISHER_ROLES = frozenset({Role.MARKETING_LEADER, Role.ADMIN})
DRAFTER_ROLES = frozenset({Role.MARKETING_LEADER, Role.MARKETER, Role.ADMIN})
COMMENTER_ROLES = frozenset(
    {Role.MARKETING_LEADER, Role.MARKETER, Role.SALES_LEADER, Role.EXECUTIVE, Role.ADMIN}
)
# Back-tests over at most this many leads (with a signal in the window) run in the
# request; larger ones go to a Celery worker with progress. Measured on the demo data:
# 1,471 leads / 8,600 activities, two definitions, 2.8 s on one core.
BACKTEST_SYNC_MAX_LEADS = getattr(settings, "MQL_BACKTEST_SYNC_MAX_LEADS", 1000)
BACKTEST_CHUNK = 500
BACKTEST_MAX_DAYS = 730
BACKTEST_ROLES = DRAFTER_ROLES | {Role.SALES_LEADER, Role.EXECUTIVE}

_QUALIFIABLE = (Stage.LEAD, Stage.NURTURE)


class DefinitionInvalid(DomainError):
    """Rules that parse_definition rejects; every problem is named by its JSON path under `rules`."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors), field="rules")
        self.errors = errors

    def as_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path, message in self.errors:
            out.setdefault(f"rules.{path}" if path else "rules", []).append(message)
        return out


# --- qualification -----------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    lead: Lead
    definition: MqlDefinition
    qualification: Qualification


def _nurture_not_before(
    returned_at: datetime, new_activities: list, fields_changed_at: datetime | None
) -> datetime | None:
    """When a lead back in nurture may qualify again: not before its first new fact, nor
    before its return or its last field change; None when nothing happened since the return."""
    changed = fields_changed_at if fields_changed_at and fields_changed_at > returned_at else None
    moments = [a.occurred_at for a in new_activities] + ([changed] if changed else [])
    if not moments:
        return None
    return max(min(moments), changed or returned_at)


@dataclass(frozen=True)
class _Redate:
    """A settled lead's latest MQL event and the earlier moment the walk found for it."""

    event: MqlEvent
    lead: Lead
    change: StageChange | None  # the stage change into mql that the event made
    qualification: Qualification


def _latest_return_before(returns: list[datetime], moment: datetime) -> datetime | None:
    earlier = [at for at in returns if at < moment]
    return max(earlier) if earlier else None


@transaction.atomic
def leads_qualify(
    *,
    lead_ids: Iterable[int],
    now: datetime | None = None,
    earliest_new_activity: Mapping[int, datetime] | None = None,
) -> list[MqlEvent]:
    """Evaluate the touched leads against the active MQL and PQL definitions; hand off the new ones.

    `earliest_new_activity` (lead id -> the earliest occurred_at among the activities
    this batch stored for it) turns on the re-date path: a lead that is already an
    MQL and just received a fact not newer than its latest MQL event is walked again
    (see _redates_find); leads that received nothing older cost no query at all.

    Set-based: one query each for the definitions, the leads (locked), their last
    MQL event, their stage changes (returns to nurture, and the moves into mql of the
    events to re-date), the events to re-date and the activities, whatever the batch
    size; then two writes per newly qualified lead (its stage change) and a fixed
    number of bulk writes for the re-dated ones. Idempotent. Returns the new events.
    """
    now = now or timezone.now()
    ids = sorted(set(lead_ids))
    if not ids:
        return []
    active: dict[str, tuple[MqlDefinition, Definition]] = {}
    for kind, row in definition_active_map().items():
        parsed = definition_parsed(row)
        if parsed is not None:
            active[kind] = (row, parsed)
    wanted = set(ids)
    older = {
        int(pk): at
        for pk, at in (earliest_new_activity or {}).items()
        if int(pk) in wanted and at is not None
    }
    scopes: list[Q] = []
    if active:
        scopes.append(Q(stage__in=_QUALIFIABLE))
    if older:
        # Coarse in SQL (an event not older than the oldest new fact of the whole batch),
        # exact per lead below: a batch of live traffic matches nothing and costs nothing.
        newer_event = MqlEvent.objects.filter(
            lead=OuterRef("pk"), qualified_at__gte=min(older.values())
        )
        scopes.append(Q(pk__in=list(older)) & ~Q(stage__in=_QUALIFIABLE) & Q(Exists(newer_event)))
    if not scopes:
        return []
    scope = scopes[0]
    for extra in scopes[1:]:
        scope |= extra
    # Locked in id order, so two ingests touching the same leads serialise here and
    # the second one sees the first one's MQL events (and re-dates).
    leads = list(
        Lead.objects.filter(scope, pk__in=ids).order_by("pk").select_for_update(of=("self",))
    )
    if not leads:
        return []
    fresh = [lead for lead in leads if lead.stage in _QUALIFIABLE]
    settled = [lead for lead in leads if lead.stage not in _QUALIFIABLE]
    last_event = dict(
        MqlEvent.objects.filter(lead_id__in=[lead.pk for lead in leads])
        .values("lead_id")
        .annotate(at=Max("qualified_at"))
        .values_list("lead_id", "at")
    )
    # Only a fact not newer than the latest event can move it (or change its evaluation).
    movable = [
        lead for lead in settled if lead.pk in last_event and older[lead.pk] <= last_event[lead.pk]
    ]
    movable_pks = [lead.pk for lead in movable]
    nurture_pks = [lead.pk for lead in fresh if lead.stage == Stage.NURTURE]
    returns: dict[int, list[datetime]] = {}
    moves_into_mql: dict[int, list[StageChange]] = {}
    if nurture_pks or movable_pks:
        for change in StageChange.objects.filter(
            Q(lead_id__in=nurture_pks, to_stage=Stage.NURTURE)
            | Q(lead_id__in=movable_pks, to_stage__in=[Stage.NURTURE, Stage.MQL])
        ).order_by("occurred_at", "id"):
            if change.to_stage == Stage.NURTURE:
                returns.setdefault(change.lead_id, []).append(change.occurred_at)
            else:
                moves_into_mql.setdefault(change.lead_id, []).append(change)
    events_of: dict[int, list[MqlEvent]] = {}
    if movable_pks:
        for event in (
            MqlEvent.objects.filter(lead_id__in=movable_pks)
            .select_related("definition")
            .order_by("qualified_at", "id")
        ):
            events_of.setdefault(event.lead_id, []).append(event)
    own_parsed: dict[int, Definition | None] = {}
    for events in events_of.values():
        definition = events[-1].definition
        if definition.pk not in own_parsed:
            own_parsed[definition.pk] = definition_parsed(definition)
    active_kinds = signal_kinds(parsed for _, parsed in active.values())
    kinds = active_kinds | signal_kinds(p for p in own_parsed.values() if p is not None)
    walked = [lead.pk for lead in fresh] + movable_pks
    facts = activity_facts_by_lead(lead_ids=walked, kinds=kinds) if walked else {}

    candidates: list[_Candidate] = []
    for lead in fresh:
        activities = facts.get(lead.pk, [])
        if kinds != active_kinds:
            activities = [a for a in activities if a.kind in active_kinds]
        if lead.stage == Stage.NURTURE:
            lead_returns = returns.get(lead.pk)
            returned_at = max(lead_returns) if lead_returns else lead.stage_changed_at
            if last_event.get(lead.pk) is not None and last_event[lead.pk] >= returned_at:
                continue  # already qualified again since its return
            activities = [a for a in activities if a.occurred_at > returned_at]
            not_before = _nurture_not_before(returned_at, activities, lead.fields_changed_at)
            if not_before is None:
                continue  # nothing new since sales returned it
        else:
            if lead.pk in last_event:
                continue  # qualified before: only a return to nurture reopens it
            not_before = lead.fields_changed_at
        fields = lead_fields(lead)
        best: _Candidate | None = None
        for kind in (DefinitionKind.MQL, DefinitionKind.PQL):
            if kind not in active:
                continue
            row, parsed = active[kind]
            found = first_qualification(
                parsed, fields=fields, activities=activities, not_before=not_before, now=now
            )
            if found is not None and (best is None or found.at < best.qualification.at):
                best = _Candidate(lead, row, found)
        if best is not None:
            candidates.append(best)

    redates = _redates_find(
        movable,
        events_of=events_of,
        returns=returns,
        moves_into_mql=moves_into_mql,
        facts=facts,
        kinds_of=lambda parsed: active_kinds | signal_kinds([parsed]),
        own_parsed=own_parsed,
        now=now,
    )
    if redates:
        _events_redate(redates, now=now)
    if not candidates:
        return []

    events = MqlEvent.objects.bulk_create(
        [
            MqlEvent(
                lead=c.lead,
                definition=c.definition,
                kind=c.definition.kind,
                qualified_at=c.qualification.at,
                trigger_activity_id=c.qualification.trigger_activity_id,
                score=c.qualification.evaluation.score,
                explanation=evaluation_as_dict(
                    c.qualification.evaluation,
                    definition=c.definition,
                    at=c.qualification.at,
                    trigger_activity_id=c.qualification.trigger_activity_id,
                ),
            )
            for c in candidates
        ]
    )
    # Imported here: the leads app calls leads_qualify after ingest, so a module-level
    # import in either direction would be circular.
    from apps.leads.services import lead_stage_change, leads_route
    from apps.sla.services import clocks_open

    for c in candidates:
        lead_stage_change(
            lead=c.lead, to_stage=Stage.MQL, occurred_at=c.qualification.at, channel="system"
        )
    leads_route(lead_ids=[c.lead.pk for c in candidates])
    clocks_open(mql_events=events)
    return events


def _redates_find(
    leads: list[Lead],
    *,
    events_of: Mapping[int, list[MqlEvent]],
    returns: Mapping[int, list[datetime]],
    moves_into_mql: Mapping[int, list[StageChange]],
    facts: Mapping[int, list[ActivityFact]],
    kinds_of: Callable[[Definition], set[str]],
    own_parsed: Mapping[int, Definition | None],
    now: datetime,
) -> list[_Redate]:
    """The settled leads whose latest MQL event the stored facts, walked in time order, date earlier.

    Only the latest event, and only while it is the lead's current qualification: a
    return to nurture after it closes it (sales judged that MQL; its clocks, dispositions
    and the return itself are history). It is walked again exactly as leads_qualify
    evaluated it: under its own definition version, from the stage it qualified from
    (`lead`: not before the last field change; `nurture`: only facts after the return,
    not before the first of them), and never before the previous MQL event. Only an
    earlier moment moves it: a later one would mean facts were removed. At the same
    moment, it is returned too when the late facts change its evaluation there (they
    add points to the score at mql_at): the write refreshes score and explanation.
    """
    found: list[_Redate] = []
    for lead in leads:
        events = events_of.get(lead.pk, [])
        if not events:
            continue
        event = events[-1]
        old_at = event.qualified_at
        lead_returns = returns.get(lead.pk, [])
        if any(at >= old_at for at in lead_returns):
            continue  # returned to nurture after it: closed history
        parsed = own_parsed.get(event.definition_id)
        if parsed is None:
            continue
        change = next(
            (c for c in reversed(moves_into_mql.get(lead.pk, [])) if c.occurred_at == old_at),
            None,
        )
        returned_at = _latest_return_before(lead_returns, old_at)
        if change is not None and change.from_stage in (Stage.LEAD, Stage.NURTURE):
            from_stage = change.from_stage
        else:
            from_stage = Stage.NURTURE if returned_at is not None else Stage.LEAD
        kinds = kinds_of(parsed)
        activities = [a for a in facts.get(lead.pk, []) if a.kind in kinds]
        if from_stage == Stage.NURTURE and returned_at is not None:
            activities = [a for a in activities if a.occurred_at > returned_at]
            not_before = _nurture_not_before(returned_at, activities, lead.fields_changed_at)
            if not_before is None:
                continue
        else:
            not_before = lead.fields_changed_at
        if len(events) > 1:
            previous_at = events[-2].qualified_at
            not_before = max(not_before, previous_at) if not_before else previous_at
        fields = lead_fields(lead)
        fields["stage"] = from_stage  # what the lead's stage was when it qualified
        walk = first_qualification(
            parsed, fields=fields, activities=activities, not_before=not_before, now=now
        )
        if walk is None or walk.at > old_at:
            continue
        if walk.at == old_at and not _evaluation_changed(event, walk):
            continue
        found.append(_Redate(event=event, lead=lead, change=change, qualification=walk))
    return found


_REDATE_KEYS = ("redated_from", "redated_at", "redates")


def _evaluation_changed(event: MqlEvent, walk: Qualification) -> bool:
    """Whether the older facts change the evaluation at the event's own moment (the score
    at mql_at counts the points of the history that arrived late)."""
    stored = {k: v for k, v in (event.explanation or {}).items() if k not in _REDATE_KEYS}
    fresh = evaluation_as_dict(
        walk.evaluation,
        definition=event.definition,
        at=walk.at,
        trigger_activity_id=walk.trigger_activity_id,
    )
    # Through JSON, as stored: tuples become lists.
    return json.loads(json.dumps(fresh)) != stored


# The audit log keeps a sample of each batch's re-dates (a back-fill can move thousands).
_AUDIT_SAMPLE = 100


def _events_redate(redates: list[_Redate], *, now: datetime) -> None:
    """Write what the walks found, in bulk (one update per table).

    A moved event takes its lead's mql_at, its stage change into mql and its SLA clocks
    along, and keeps the moment it moved from. An event whose moment stands but whose
    evaluation there changed (late history adds points) only gets the new score and
    explanation, as in-order delivery would have given it.
    """
    recorded = timezone.now()
    events: list[MqlEvent] = []
    moved: list[MqlEvent] = []
    moments: list[datetime] = []
    leads: list[Lead] = []
    changes: list[StageChange] = []
    for redate in redates:
        event, lead, walk = redate.event, redate.lead, redate.qualification
        old_at = event.qualified_at
        kept = {k: v for k, v in (event.explanation or {}).items() if k in _REDATE_KEYS}
        if walk.at < old_at:
            move = {
                "from": old_at.isoformat(),
                "to": walk.at.isoformat(),
                "recorded_at": now.isoformat(),
            }
            kept = {
                # "Re-dated from <from> when an earlier fact arrived on <recorded_at>".
                "redated_from": move["from"],
                "redated_at": move["recorded_at"],
                "redates": [*(kept.get("redates") or []), move],
            }
            moved.append(event)
            moments.extend([old_at, walk.at])
            lead.mql_at = walk.at
            if lead.stage == Stage.MQL and lead.stage_changed_at == old_at:
                lead.stage_changed_at = walk.at  # still in the stage that event moved it to
            lead.updated_at = recorded
            leads.append(lead)
            if redate.change is not None:
                redate.change.occurred_at = walk.at
                changes.append(redate.change)
        event.qualified_at = walk.at
        event.trigger_activity_id = walk.trigger_activity_id
        event.score = walk.evaluation.score
        event.explanation = {
            **evaluation_as_dict(
                walk.evaluation,
                definition=event.definition,
                at=walk.at,
                trigger_activity_id=walk.trigger_activity_id,
            ),
            **kept,
        }
        events.append(event)
    MqlEvent.objects.bulk_update(
        events, ["qualified_at", "trigger_activity", "score", "explanation"]
    )
    if not moved:
        return
    Lead.objects.bulk_update(leads, ["mql_at", "stage_changed_at", "updated_at"])
    if changes:
        StageChange.objects.bulk_update(changes, ["occurred_at"])
    from apps.sla.services import clocks_redate

    clocks_redate(mql_events=moved, now=now)
    # Past periods' compliance snapshots (and stored charts) counted the old moment.
    from apps.compliance.services import snapshots_invalidate

    snapshots_invalidate(moments=moments)
    audit_record(
        actor=None,
        action="mql.redated",
        target=f"{len(moved)} MQL event{'s' if len(moved) != 1 else ''}",
        count=len(moved),
        moves=[
            {"lead_id": e.lead_id, "event_id": e.pk, **e.explanation["redates"][-1]}
            for e in moved[:_AUDIT_SAMPLE]
        ],
    )


# --- definitions -------------------------------------------------------------


def _require_role(actor: Any, roles: frozenset[str], action: str) -> None:
    if getattr(actor, "role", None) not in roles:
        raise NotAllowed(f"Your role may not {action}.")


def definition_rules_validate(rules: Mapping[str, Any]) -> Definition:
    """Parsed rules, or DefinitionInvalid naming every problem by its path."""
    try:
        return parse_definition(rules)
    except DefinitionError as exc:
        raise DefinitionInvalid(exc.errors) from exc


@transaction.atomic
def definition_draft_create(
    *,
    kind: str,
    name: str,
    actor: Any,
    rules: Mapping[str, Any] | None = None,
    notes: str = "",
    based_on: MqlDefinition | None = None,
) -> MqlDefinition:
    """A new draft version of the kind: from the given rules, a copy of `based_on`, or empty."""
    _require_role(actor, DRAFTER_ROLES, "draft definitions")
    if kind not in DefinitionKind.values:
        raise DomainError("Choose mql or pql.", field="kind")
    if based_on is not None and based_on.kind != kind:
        raise DomainError("A draft copies a definition of its own kind.", field="based_on")
    if not name.strip():
        raise DomainError("Give the draft a name.", field="name")
    if rules is None:
        rules = dict(based_on.rules) if based_on is not None else {}
    definition_rules_validate(rules)
    # Two drafts created at once must get consecutive versions, not a unique
    # violation; an advisory lock (keyed by schema: locks are database-wide) also
    # covers the very first version, which no row lock could.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}:mql:{kind}"]
        )
    latest = MqlDefinition.objects.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0
    audit_record(actor=actor, action="mql.draft_created", target=f"{kind.upper()} v{latest + 1}", name=name.strip())  # fmt: skip
    return MqlDefinition.objects.create(
        kind=kind,
        version=latest + 1,
        name=name.strip(),
        rules=dict(rules),
        notes=notes,
        status=DefinitionStatus.DRAFT,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def definition_draft_update(
    *,
    definition: MqlDefinition,
    actor: Any,
    name: str | None = None,
    rules: Mapping[str, Any] | None = None,
    notes: str | None = None,
) -> MqlDefinition:
    """Change a draft; published and retired versions are immutable (copy them into a new draft)."""
    _require_role(actor, DRAFTER_ROLES, "edit definitions")
    definition = MqlDefinition.objects.select_for_update().get(pk=definition.pk)
    if definition.status != DefinitionStatus.DRAFT:
        raise Conflict(
            f"Version {definition.version} is {definition.get_status_display().lower()}: "
            "only drafts can change. Start a new draft from it.",
            field="status",
        )
    if name is not None:
        if not name.strip():
            raise DomainError("Give the draft a name.", field="name")
        definition.name = name.strip()
    if rules is not None:
        definition_rules_validate(rules)
        definition.rules = dict(rules)
    if notes is not None:
        definition.notes = notes
    definition.save()
    audit_record(actor=actor, action="mql.draft_changed", target=f"{definition.kind.upper()} v{definition.version}", name=definition.name)  # fmt: skip
    return definition


@transaction.atomic
def definition_publish(*, definition: MqlDefinition, actor: Any) -> MqlDefinition:
    """Make a draft the active version of its kind; the previously published one is retired."""
    _require_role(actor, PUBLISHER_ROLES, "publish definitions")
    # Lock every version of the kind: two publishes at once must not both retire
    # the same version and then collide on the one-active-per-kind constraint.
    versions = {
        d.pk: d
        for d in MqlDefinition.objects.select_for_update()
        .filter(kind=definition.kind)
        .order_by("pk")
    }
    definition = versions[definition.pk]
    if definition.status != DefinitionStatus.DRAFT:
        raise Conflict(f"Version {definition.version} is not a draft.", field="status")
    definition_rules_validate(definition.rules)
    # Retire first, then publish: the partial unique constraint allows one
    # published row per kind at every statement, not only at commit.
    MqlDefinition.objects.filter(kind=definition.kind, status=DefinitionStatus.PUBLISHED).update(
        status=DefinitionStatus.RETIRED, updated_at=timezone.now()
    )
    definition.status = DefinitionStatus.PUBLISHED
    definition.published_by = actor if getattr(actor, "pk", None) else None
    definition.published_at = timezone.now()
    try:
        definition.save(update_fields=["status", "published_by", "published_at", "updated_at"])
    except IntegrityError as exc:  # pragma: no cover - guarded by the lock above
        raise Conflict("Another version was published at the same time.") from exc
    audit_record(actor=actor, action="mql.published", target=f"{definition.kind.upper()} v{definition.version}", name=definition.name)  # fmt: skip
    return definition


@transaction.atomic
def definition_comment_add(
    *, definition: MqlDefinition, author: Any, body: str
) -> DefinitionComment:
    """A comment on one definition version (sales leaders' voice before publishing)."""
    _require_role(author, COMMENTER_ROLES, "comment on definitions")
    body = (body or "").strip()
    if not body:
        raise DomainError("Write a comment first.", field="body")
    if len(body) > 4000:
        raise DomainError("Keep comments under 4,000 characters.", field="body")
    audit_record(actor=author, action="mql.commented", target=f"{definition.kind.upper()} v{definition.version}", comment=body[:200])  # fmt: skip
    return DefinitionComment.objects.create(definition=definition, author=author, body=body)


# --- back-test ---------------------------------------------------------------


@transaction.atomic
def backtest_start(
    *, definition: MqlDefinition, days: int, actor: Any, now: datetime | None = None
) -> BacktestRun:
    """Start a back-test of `definition` against the active one over the last `days` days.

    Up to BACKTEST_SYNC_MAX_LEADS leads are replayed in the request; beyond, a Celery
    task queued after commit does it and reports progress on the run.
    """
    _require_role(actor, BACKTEST_ROLES, "run back-tests")
    if not 1 <= days <= BACKTEST_MAX_DAYS:
        raise DomainError(f"Choose between 1 and {BACKTEST_MAX_DAYS} days.", field="days")
    parsed = definition_parsed(definition)
    if parsed is None:
        raise DomainError("Fix the definition's errors before back-testing it.", field="rules")
    baseline = definition_active_map().get(definition.kind)
    if baseline is not None and baseline.pk == definition.pk:
        baseline = None  # back-testing the active version itself: nothing to compare with
    now = now or timezone.now()
    run = BacktestRun.objects.create(
        definition=definition,
        baseline=baseline,
        days=days,
        window_end=now,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    run.total = backtest_lead_scope(run=run).count()
    run.save(update_fields=["total"])
    if run.total <= BACKTEST_SYNC_MAX_LEADS:
        backtest_run(run_id=run.pk)
        run.refresh_from_db()
    else:
        from apps.mql.tasks import backtest_run_task

        transaction.on_commit(lambda: backtest_run_task.delay(run.pk))
    return run


def backtest_run(*, run_id: int) -> BacktestRun:
    """Replay the run's definitions over the leads in scope, chunk by chunk, saving progress.

    Not one transaction: progress must be visible while it runs. Re-running a
    finished run does nothing, so a redelivered task is harmless.
    """
    run = BacktestRun.objects.select_related("definition", "baseline").get(pk=run_id)
    if run.is_finished:
        return run
    draft = definition_parsed(run.definition)
    baseline = definition_parsed(run.baseline) if run.baseline is not None else None
    if draft is None:
        run.status, run.error, run.finished_at = (
            BacktestStatus.FAILED,
            "The definition is not valid.",
            timezone.now(),
        )
        run.save(update_fields=["status", "error", "finished_at"])
        return run
    run.status, run.processed = BacktestStatus.RUNNING, 0
    run.save(update_fields=["status", "processed"])
    tally = Tally(draft, baseline, start=run.window_start, end=run.window_end)
    kinds = signal_kinds([d for d in (draft, baseline) if d is not None])
    for chunk in backtest_lead_chunks(run=run, size=BACKTEST_CHUNK):
        facts = activity_facts_by_lead(lead_ids=[lead.pk for lead in chunk], kinds=kinds)
        for lead in chunk:
            tally.add(
                LeadHistory(
                    lead_id=lead.pk,
                    fields=lead_fields(lead),
                    activities=[
                        a for a in facts.get(lead.pk, []) if a.occurred_at <= run.window_end
                    ],
                    reached_sql=lead.sql_at is not None,
                    won=lead.stage == Stage.WON,
                )
            )
        run.processed += len(chunk)
        BacktestRun.objects.filter(pk=run.pk).update(processed=run.processed)
    run.result = tally.as_dict()
    run.status = BacktestStatus.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["result", "status", "finished_at", "processed"])
    return run


__all__ = [
    "BACKTEST_SYNC_MAX_LEADS",
    "BacktestStatus",
    "DefinitionInvalid",
    "backtest_run",
    "backtest_start",
    "definition_comment_add",
    "definition_draft_create",
    "definition_draft_update",
    "definition_publish",
    "leads_qualify",
]
