"""Writes of the MQL engine: qualification of leads, definition drafts, publishing, comments, back-tests.

Qualification (leads_qualify) decides with the pure apps/mql/qualification.py (its
docstring states the rules) and writes MqlEvent rows only: the hand-off pipeline
(apps/handoff/pipeline.py) moves the stages, routes and opens or moves the clocks
of what it returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.roles import Capability, Role, roles_for
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
from apps.mql.qualification import (
    QUALIFIABLE,
    DefinitionVersion,
    LeadState,
    MoveIntoMql,
    NewMql,
    PastEvent,
    Redate,
    leads_decide,
    qualification_explanation,
    redated_explanation,
    requirements,
    signal_kinds,
)
from apps.mql.qualification_sql import requirements_sql
from apps.mql.rules import Definition, DefinitionError, lead_fields, parse_definition
from apps.mql.selectors import (
    activity_facts_by_lead,
    backtest_lead_chunks,
    backtest_lead_scope,
    definition_active_map,
    definition_parsed,
)
from config.celery_app import app as celery_app

PUBLISHER_ROLES = roles_for(Capability.PUBLISH_DEFINITIONS)
DRAFTER_ROLES = roles_for(Capability.DRAFT_DEFINITIONS)
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
# Queued by name for large back-tests (apps/mql/tasks.py registers it under it).
BACKTEST_TASK = "apps.mql.tasks.backtest_run_task"
# The audit log keeps a sample of each batch's re-dates (a back-fill can move thousands).
_AUDIT_SAMPLE = 100


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
class Redated:
    """An MQL event walked again: its new moment (or only its new evaluation) is saved."""

    event: MqlEvent
    old_at: datetime
    # The lead's stage change into mql that the event made (it moves with a moved event).
    change_id: int | None

    @property
    def moved(self) -> bool:
        return self.event.qualified_at < self.old_at


@dataclass(frozen=True)
class Qualified:
    """What one qualification batch decided and wrote."""

    # Every lead the batch locked (for update, in id order), by id.
    leads: Mapping[int, Lead] = field(default_factory=dict)
    # The new MQL events, in lead order; `event.lead` is the locked Lead.
    events: list[MqlEvent] = field(default_factory=list)
    redated: list[Redated] = field(default_factory=list)


def _version(row: MqlDefinition) -> DefinitionVersion | None:
    parsed = definition_parsed(row)
    if parsed is None:
        return None
    return DefinitionVersion(
        id=row.pk, kind=row.kind, version=row.version, name=row.name, rules=parsed
    )


_LOCK = """
SELECT l.*{flags} FROM {lead} l
WHERE l.id = ANY(%s) AND ({scope})
ORDER BY l.id
FOR UPDATE OF l
"""
# Settled leads of the batch (ids) with an MQL event not older than the oldest new fact.
_SETTLED_SCOPE = f"""(l.id = ANY(%s) AND NOT l.stage = ANY(%s) AND EXISTS (
    SELECT 1 FROM {MqlEvent._meta.db_table} e WHERE e.lead_id = l.id AND e.qualified_at >= %s))"""  # noqa: S608 - table name from the model; values are parameters


def _locked_leads(
    ids: list[int],
    *,
    active: Mapping[str, DefinitionVersion],
    older: Mapping[int, datetime],
) -> list[Lead]:
    """The batch's leads that qualification may change, locked in id order (one query).

    Leads in lead/nurture that can meet an active definition: `l.may_<kind>` says which
    (qualification_sql: the fit, and a stored activity a behaviour needs), so leads that
    cannot are left out before any rule is replayed. Settled leads with a new fact that
    may re-date their MQL: coarse in SQL (an event not older than the oldest new fact of
    the whole batch), exact per lead in qualification.is_walked_again; a batch of live
    traffic matches none of them.
    """
    flags, flag_params, fresh = [], [], []
    for kind, version in active.items():
        sql, params = requirements_sql(requirements(version.rules))
        flags.append(f", {sql} AS may_{kind}")
        flag_params += params
        fresh.append((sql, params))
    scopes, scope_params = [], []
    if fresh:
        scopes.append("(l.stage = ANY(%s) AND (" + " OR ".join(sql for sql, _ in fresh) + "))")
        scope_params.append(sorted(QUALIFIABLE))
        for _, params in fresh:
            scope_params += params
    if older:
        scopes.append(_SETTLED_SCOPE)
        scope_params += [list(older), sorted(QUALIFIABLE), min(older.values())]
    if not scopes:
        return []
    query = _LOCK.format(flags="".join(flags), lead=Lead._meta.db_table, scope=" OR ".join(scopes))
    return list(Lead.objects.raw(query, [*flag_params, ids, *scope_params]))


def _states(
    leads: list[Lead],
    *,
    active: Mapping[str, DefinitionVersion],
    older: Mapping[int, datetime],
    versions: dict[int, DefinitionVersion],
) -> list[LeadState]:
    """Each locked lead's state for qualification.leads_decide: a fixed number of queries.

    Its MQL events; its returns to nurture and moves into mql (nurture leads and leads
    with an older fact); the definition versions of events walked again; the activities
    of the kinds the definitions read.
    """
    ids = [lead.pk for lead in leads]
    events: dict[int, list[PastEvent]] = {}
    for row in (
        MqlEvent.objects.filter(lead_id__in=ids)
        .order_by("qualified_at", "id")
        .values_list("id", "lead_id", "qualified_at", "definition_id", "explanation")
    ):
        events.setdefault(row[1], []).append(
            PastEvent(id=row[0], qualified_at=row[2], definition_id=row[3], explanation=row[4])
        )
    settled = [
        lead.pk
        for lead in leads
        if lead.stage not in QUALIFIABLE
        and lead.pk in older
        and lead.pk in events
        and older[lead.pk] <= events[lead.pk][-1].qualified_at
    ]
    nurture = [lead.pk for lead in leads if lead.stage == Stage.NURTURE]
    returns: dict[int, list[datetime]] = {}
    moves: dict[int, list[MoveIntoMql]] = {}
    if nurture or settled:
        for change in StageChange.objects.filter(
            Q(lead_id__in=nurture, to_stage=Stage.NURTURE)
            | Q(lead_id__in=settled, to_stage__in=[Stage.NURTURE, Stage.MQL])
        ).order_by("occurred_at", "id"):
            if change.to_stage == Stage.NURTURE:
                returns.setdefault(change.lead_id, []).append(change.occurred_at)
            else:
                moves.setdefault(change.lead_id, []).append(
                    MoveIntoMql(change.pk, change.from_stage, change.occurred_at)
                )
    wanted = {events[pk][-1].definition_id for pk in settled} - set(versions)
    if wanted:
        for row in MqlDefinition.objects.filter(pk__in=wanted):
            version = _version(row)
            if version is not None:
                versions[row.pk] = version
    kinds = signal_kinds(v.rules for v in active.values())
    kinds |= signal_kinds(
        versions[events[pk][-1].definition_id].rules
        for pk in settled
        if events[pk][-1].definition_id in versions
    )
    walked = [lead.pk for lead in leads if lead.stage in QUALIFIABLE] + settled
    facts = activity_facts_by_lead(lead_ids=walked, kinds=kinds) if walked else {}
    walked_again = set(settled)
    return [
        LeadState(
            lead_id=lead.pk,
            stage=lead.stage,
            stage_changed_at=lead.stage_changed_at,
            fields_changed_at=lead.fields_changed_at,
            fields=lead_fields(lead),
            events=tuple(events.get(lead.pk, ())),
            returns=tuple(returns.get(lead.pk, ())),
            moves_into_mql=tuple(moves.get(lead.pk, ())),
            activities=tuple(facts.get(lead.pk, ())),
            earliest_new_activity=older.get(lead.pk) if lead.pk in walked_again else None,
            kinds=frozenset(kind for kind in active if getattr(lead, f"may_{kind}", True)),
        )
        for lead in leads
    ]


@transaction.atomic
def leads_qualify(
    *,
    lead_ids: Iterable[int],
    now: datetime | None = None,
    earliest_new_activity: Mapping[int, datetime] | None = None,
) -> Qualified:
    """Evaluate the touched leads against the active MQL and PQL definitions; write the MQL events.

    `earliest_new_activity` (lead id -> the earliest occurred_at among the activities
    this batch stored for it) turns on the re-date path: a lead that is already an
    MQL and just received a fact not newer than its latest MQL event is walked again;
    leads that received nothing older cost no query at all.

    Set-based: the definitions, the leads (locked; those that cannot qualify are left
    out in SQL), their events, their stage changes, the versions to walk again and the
    activities are a fixed number of queries whatever the batch size; the new events
    are one insert and the re-dated ones one update (plus an audit row). Idempotent.
    The stage changes, routing and clocks that follow are the hand-off pipeline's.
    """
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in lead_ids})
    if not ids:
        return Qualified()
    active: dict[str, DefinitionVersion] = {}
    for kind, row in definition_active_map().items():
        version = _version(row)
        if version is not None:
            active[kind] = version
    wanted = set(ids)
    older = {
        int(pk): at
        for pk, at in (earliest_new_activity or {}).items()
        if int(pk) in wanted and at is not None
    }
    leads = _locked_leads(ids, active=active, older=older)
    if not leads:
        return Qualified()
    versions = {version.id: version for version in active.values()}
    states = _states(leads, active=active, older=older, versions=versions)
    decided = leads_decide(states, active=active, versions=versions, now=now)
    by_id = {lead.pk: lead for lead in leads}
    redated = _events_redate([d for d in decided if isinstance(d, Redate)], now=now)
    fresh = [d for d in decided if isinstance(d, NewMql)]
    events = _events_insert(
        [
            MqlEvent(
                lead=by_id[d.lead_id],
                definition_id=d.definition.id,
                kind=d.definition.kind,
                qualified_at=d.qualification.at,
                trigger_activity_id=d.qualification.trigger_activity_id,
                score=d.qualification.evaluation.score,
                explanation=qualification_explanation(d.qualification, definition=d.definition),
                recorded_at=now,
            )
            for d in fresh
        ]
    )
    return Qualified(leads=by_id, events=events, redated=redated)


# The rows travel as one JSON document: an array of JSON texts would be escaped element by
# element in Python (psycopg quotes arrays with a regex), a second per 1,000 explanations.
_EVENTS_INSERT = f"""
INSERT INTO {MqlEvent._meta.db_table} (lead_id, definition_id, kind, qualified_at,
                                       trigger_activity_id, score, explanation, recorded_at)
SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(
    lead_id bigint, definition_id bigint, kind varchar, qualified_at timestamptz,
    trigger_activity_id bigint, score float8, explanation jsonb, recorded_at timestamptz)
RETURNING id, lead_id
"""  # noqa: S608 - table name from the model; every value is a parameter


def _events_insert(events: list[MqlEvent]) -> list[MqlEvent]:
    """The new events in one statement (one per lead: a batch qualifies a lead once); their ids set."""
    if not events:
        return []
    rows = [
        {
            "lead_id": e.lead_id,
            "definition_id": e.definition_id,
            "kind": e.kind,
            "qualified_at": e.qualified_at,
            "trigger_activity_id": e.trigger_activity_id,
            "score": e.score,
            "explanation": e.explanation,
            "recorded_at": e.recorded_at,
        }
        for e in events
    ]
    with connection.cursor() as cursor:
        cursor.execute(_EVENTS_INSERT, [json.dumps(rows, default=datetime.isoformat)])
        ids = {lead_id: pk for pk, lead_id in cursor.fetchall()}
    for event in events:
        event.pk = ids[event.lead_id]
        event._state.adding = False
    return events


_EVENTS_REDATE = f"""
UPDATE {MqlEvent._meta.db_table} AS e SET qualified_at = v.qualified_at,
       trigger_activity_id = v.trigger_activity_id, score = v.score, explanation = v.explanation
FROM jsonb_to_recordset(%s::jsonb) AS v(
    id bigint, qualified_at timestamptz, trigger_activity_id bigint, score float8,
    explanation jsonb)
WHERE e.id = v.id
"""  # noqa: S608 - table name from the model; every value is a parameter


def _events_redate(redates: list[Redate], *, now: datetime) -> list[Redated]:
    """Save what the walks found (one update) and audit the moves.

    A moved event keeps the moment it moved from; an event whose moment stands but whose
    evaluation there changed (late history adds points) only gets the new score and
    explanation, as in-order delivery would have given it.
    """
    if not redates:
        return []
    stored = {
        event.pk: event for event in MqlEvent.objects.filter(pk__in=[r.event_id for r in redates])
    }
    redated: list[Redated] = []
    for redate in redates:
        event = stored[redate.event_id]
        walk = redate.qualification
        event.explanation = redated_explanation(redate, explanation=event.explanation, now=now)
        event.qualified_at = walk.at
        event.trigger_activity_id = walk.trigger_activity_id
        event.score = walk.evaluation.score
        redated.append(Redated(event=event, old_at=redate.old_at, change_id=redate.change_id))
    rows = [
        {
            "id": r.event.pk,
            "qualified_at": r.event.qualified_at,
            "trigger_activity_id": r.event.trigger_activity_id,
            "score": r.event.score,
            "explanation": r.event.explanation,
        }
        for r in redated
    ]
    with connection.cursor() as cursor:
        cursor.execute(_EVENTS_REDATE, [json.dumps(rows, default=datetime.isoformat)])
    moved = [r for r in redated if r.moved]
    if moved:
        audit_record(
            actor=None,
            action="mql.redated",
            target=f"{len(moved)} MQL event{'s' if len(moved) != 1 else ''}",
            count=len(moved),
            moves=[
                {
                    "lead_id": r.event.lead_id,
                    "event_id": r.event.pk,
                    **r.event.explanation["redates"][-1],
                }
                for r in moved[:_AUDIT_SAMPLE]
            ],
        )
    return redated


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
        # By name: the task module imports this one (tasks call services, not back).
        transaction.on_commit(lambda: celery_app.send_task(BACKTEST_TASK, args=[run.pk]))
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
