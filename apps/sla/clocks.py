"""SLA clocks: the one write path of SlaClock — open, re-date, sync, breach.

Every function takes a whole batch and costs a fixed number of statements, whatever
its size (arrays joined with unnest, UPDATE … FROM, INSERT … SELECT):

- ``clocks_start`` (``clocks_open`` reads them back): one clock per applicable time-based commitment of the SLA version
  in force at each MQL event's moment; due times are computed here, once, with that
  version's frozen calendar, and never move afterwards (an SLA change never moves an
  existing clock);
- ``clocks_redate``: an MQL event moved earlier (a late, older fact): its clocks
  restart at the new moment under the version in force then;
- ``clocks_sync``: met_at and state from the stored touches and final dispositions,
  whatever order those facts arrived in (apps/sla/clock_rules.py decides);
- ``clocks_breach``: pending clocks whose due time passed, unmet by the facts, become
  breached (the compliance sweep calls it, then raises the alerts);
- ``backfill_events``: the MQLs a version signed after the fact governs that have no
  clock yet (the hand-off's back-fill opens theirs with ``clocks_start``).

Callers: the hand-off pipeline (apps/handoff/pipeline.py, also for a back-dated version's
back-fill) and the compliance sweep. Nothing else writes SlaClock rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.dispositions.models import FINAL_OUTCOMES, Disposition
from apps.leads.models import Activity, ActivityFamily, Lead
from apps.mql.models import MqlEvent
from apps.mql.rules import lead_fields
from apps.sla import business_time, clock_rules
from apps.sla.models import (
    CLOCK_METRICS,
    ClockKind,
    ClockState,
    Commitment,
    Metric,
    SlaClock,
    SlaVersion,
    VersionStatus,
)
from apps.sla.segments import parse_segment, segment_matches
from apps.sla.snapshots import calendar_from_json

CLOCK = SlaClock._meta.db_table
ACTIVITY = Activity._meta.db_table
DISPOSITION = Disposition._meta.db_table
COMMITMENT = Commitment._meta.db_table
CLOCK_KIND_BY_METRIC = {
    Metric.FIRST_CONTACT_TIME: ClockKind.FIRST_CONTACT,
    Metric.FOLLOW_UP_CADENCE: ClockKind.FOLLOW_UP,
    Metric.DISPOSITION_TIME: ClockKind.DISPOSITION,
}
# Leads per round of clocks_sync: keeps the arrays and the fetched facts bounded.
SYNC_BATCH = 2000
_FINAL = sorted(FINAL_OUTCOMES)


class _VersionPlan:
    """A signed version's clock commitments with their calendars, built once per batch."""

    def __init__(self, version: SlaVersion) -> None:
        self.version = version
        self.commitments: list[tuple[Commitment, tuple]] = []
        self._calendars: dict[str, business_time.BusinessCalendar] = {}
        for commitment in version.commitments.all():
            if commitment.metric in CLOCK_METRICS:
                self.commitments.append((commitment, parse_segment(commitment.segment)))

    @property
    def needs_lead_fields(self) -> bool:
        return any(conditions for _, conditions in self.commitments)

    def calendar(self, mode: str) -> business_time.BusinessCalendar:
        if mode not in self._calendars:
            self._calendars[mode] = calendar_from_json(self.version.calendar_snapshot, mode=mode)
        return self._calendars[mode]

    def applicable(self, fields: Mapping[str, Any]) -> list[Commitment]:
        """The commitments that give a clock to an MQL of a lead with these fields."""
        return [
            commitment
            for commitment, conditions in self.commitments
            if not conditions or segment_matches(conditions, fields)
        ]

    def clock(self, event, commitment: Commitment, *, created_at: datetime) -> SlaClock:
        """A new clock of the event under the commitment, started at its qualified_at."""
        return SlaClock(
            lead_id=event.lead_id,
            mql_event_id=event.pk,
            commitment=commitment,
            sla_version=self.version,
            kind=CLOCK_KIND_BY_METRIC[commitment.metric],
            started_at=event.qualified_at,
            due_at=self.due_at(commitment, event.qualified_at),
            created_at=created_at,
        )

    def due_at(self, commitment: Commitment, started_at: datetime) -> datetime:
        """Deadline computed once, with the version's frozen calendar (never moved afterwards)."""
        params = commitment.params or {}
        if commitment.metric == Metric.FOLLOW_UP_CADENCE:
            # Calendar days of 24 h, as metrics.follow_up_outcome's window.
            return (started_at.astimezone(UTC) + timedelta(days=float(params["days"]))).astimezone(
                UTC
            )
        mode = params.get("clock", business_time.BUSINESS)
        hours = timedelta(hours=float(params["hours"]))
        return business_time.add(self.calendar(mode), started_at, hours).astimezone(UTC)


def _signed_versions() -> list[SlaVersion]:
    # An organization signs a handful of versions over its life: load them all once.
    return list(
        SlaVersion.objects.filter(
            status__in=[VersionStatus.ACTIVE, VersionStatus.SUPERSEDED],
            effective_at__isnull=False,
        )
        .prefetch_related("commitments")
        .order_by("-effective_at", "-id")
    )


def _in_force(versions: Sequence[SlaVersion], at: datetime) -> SlaVersion | None:
    """Python twin of SlaVersion.objects.in_force_at over preloaded versions."""
    for version in versions:
        if version.effective_at <= at and (
            version.superseded_at is None or version.superseded_at > at
        ):
            return version
    return None


def _fields_by_lead(lead_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = list(lead_ids)
    if not ids:
        return {}
    return {lead.pk: lead_fields(lead) for lead in Lead.objects.filter(pk__in=ids)}


# A batch's rows travel as one JSON document (jsonb_to_recordset): one string that libpq
# escapes, where arrays would be quoted element by element in Python.
_CLOCK_COLUMNS = (
    "lead_id",
    "mql_event_id",
    "commitment_id",
    "sla_version_id",
    "kind",
    "started_at",
    "due_at",
    "state",
    "created_at",
)
_CLOCK_INSERT = f"""
INSERT INTO {CLOCK} (lead_id, mql_event_id, commitment_id, sla_version_id, kind, started_at,
                     due_at, state, created_at)
SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(
    lead_id bigint, mql_event_id bigint, commitment_id bigint, sla_version_id bigint,
    kind varchar, started_at timestamptz, due_at timestamptz, state varchar,
    created_at timestamptz)
ON CONFLICT (mql_event_id, commitment_id) DO NOTHING
"""  # noqa: S608 - table name from the model; every value is a parameter


def _rows_insert(rows: Sequence[tuple]) -> None:
    """New clocks in one statement; a clock already open for its event and commitment stays.

    Rows: (lead_id, mql_event_id, commitment_id, sla_version_id, kind, started_at, due_at,
    state, created_at).
    """
    if rows:
        # A batch's clocks share their creation time and, per event, their start: each
        # moment is written out once (a thousand events' three clocks: 9,000 -> ~4,000).
        texts: dict[datetime, str] = {}

        def text(value: Any) -> Any:
            if isinstance(value, datetime):
                found = texts.get(value)
                if found is None:
                    found = texts[value] = value.isoformat()
                return found
            return value

        document = [
            {name: text(value) for name, value in zip(_CLOCK_COLUMNS, row, strict=True)}
            for row in rows
        ]
        with connection.cursor() as cursor:
            cursor.execute(_CLOCK_INSERT, [json.dumps(document)])


def _clocks_insert(clocks: Sequence[SlaClock]) -> None:
    _rows_insert(
        [
            (
                c.lead_id,
                c.mql_event_id,
                c.commitment_id,
                c.sla_version_id,
                c.kind,
                c.started_at,
                c.due_at,
                c.state,
                c.created_at,
            )
            for c in clocks
        ]
    )


def clocks_start(*, mql_events: Sequence, now: datetime | None = None) -> int:
    """Open one clock per applicable time-based commitment of the version in force at each
    event's qualified_at (back-filled events too), then close at once those already satisfied.

    Idempotent: a clock is unique per event and commitment. A fixed number of statements
    for the whole batch: versions, leads (when a segment needs them), the insert, the
    leads with a touch or final disposition since (only those are synced). Returns how
    many clocks it meant to open.
    """
    events = [event for event in mql_events if event is not None]
    if not events:
        return 0
    versions = _signed_versions()
    if not versions:
        return 0
    plans: dict[int, _VersionPlan] = {}
    chosen: list[tuple[Any, _VersionPlan]] = []
    for event in events:
        version = _in_force(versions, event.qualified_at)
        if version is None:
            continue
        if version.pk not in plans:
            plans[version.pk] = _VersionPlan(version)
        chosen.append((event, plans[version.pk]))
    if not chosen:
        return 0
    fields_by_lead = _fields_by_lead(
        {event.lead_id for event, plan in chosen if plan.needs_lead_fields}
    )
    now = now or timezone.now()
    rows = [
        (
            event.lead_id,
            event.pk,
            commitment.pk,
            plan.version.pk,
            CLOCK_KIND_BY_METRIC[commitment.metric],
            event.qualified_at,
            plan.due_at(commitment, event.qualified_at),
            ClockState.PENDING,
            now,
        )
        for event, plan in chosen
        for commitment in plan.applicable(fields_by_lead.get(event.lead_id, {}))
    ]
    with transaction.atomic():
        _rows_insert(rows)
        since = min(event.qualified_at for event, _ in chosen)
        satisfied = _leads_with_facts({row[0] for row in rows}, since=since)
        if satisfied:
            clocks_sync(lead_ids=satisfied, now=now)
    return len(rows)


def clocks_open(*, mql_events: Sequence, now: datetime | None = None) -> list[SlaClock]:
    """clocks_start, then every clock of the events (new or not), with its commitment."""
    events = [event for event in mql_events if event is not None]
    if not clocks_start(mql_events=events, now=now):
        return []
    return list(
        SlaClock.objects.filter(mql_event_id__in=[event.pk for event in events]).select_related(
            "commitment"
        )
    )


_FACT_LEADS = f"""
SELECT DISTINCT lead_id FROM {ACTIVITY}
WHERE lead_id = ANY(%(leads)s) AND family = 'sales_touch' AND occurred_at >= %(since)s
UNION
SELECT DISTINCT lead_id FROM {DISPOSITION}
WHERE lead_id = ANY(%(leads)s) AND outcome = ANY(%(final)s) AND occurred_at >= %(since)s
"""  # noqa: S608 - table names from the models; every value is a parameter


def _leads_with_facts(lead_ids: Iterable[int], *, since: datetime) -> list[int]:
    """The leads with a sales touch or a final disposition at or after `since`: one query."""
    with connection.cursor() as cursor:
        cursor.execute(_FACT_LEADS, {"leads": sorted(lead_ids), "since": since, "final": _FINAL})
        return [row[0] for row in cursor.fetchall()]


_CLOCK_MOVE = f"""
UPDATE {CLOCK} AS k SET commitment_id = v.commitment_id, sla_version_id = v.sla_version_id,
       started_at = v.started_at, due_at = v.due_at, breached_at = v.breached_at
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::timestamptz[], %s::timestamptz[],
            %s::timestamptz[]) AS v(id, commitment_id, sla_version_id, started_at, due_at,
                                    breached_at)
WHERE k.id = v.id
"""  # noqa: S608 - table name from the model; every value is a parameter


def clocks_redate(*, mql_events: Sequence, now: datetime | None = None) -> int:
    """Follow MQL events whose qualified_at moved earlier (a late, older fact re-dated them).

    Called after the events' new qualified_at is saved. Each event's clocks then start at
    that moment under the SLA version in force at it, as if the facts had arrived in order:

    - same version as its clocks: started_at and due_at are recomputed in place;
    - another version: each clock is re-keyed in place to the new version's commitment
      of the same kind that applies to the lead, so its alerts (unique per clock and
      kind) stay attached and the sweep raises no second breach or due-soon alert;
      a commitment left without a clock gets a new one, a clock whose kind the new
      version lacks is deleted (its alerts with it);
    - no version in force: its clocks are deleted.

    A breached clock's breached_at, which is its due time, moves with it; then
    clocks_sync judges met/breached from the stored facts (a touch between the new and
    the old start now counts; an earlier deadline can turn a met clock breached). A
    pending clock now past due stays pending until the sweep breaches and alerts it,
    like any other. A fixed number of statements for the batch; returns the clocks changed.
    """
    events = [event for event in mql_events if event is not None]
    if not events:
        return 0
    now = now or timezone.now()
    own: dict[int, list[SlaClock]] = defaultdict(list)
    for clock in (
        SlaClock.objects.filter(mql_event_id__in=[event.pk for event in events])
        .select_related("commitment")
        .order_by("pk")
    ):
        own[clock.mql_event_id].append(clock)
    versions = _signed_versions()
    plans: dict[int, _VersionPlan] = {}
    targets: list[tuple[Any, _VersionPlan | None]] = []
    for event in events:
        version = _in_force(versions, event.qualified_at)
        if version is not None and version.pk not in plans:
            plans[version.pk] = _VersionPlan(version)
        targets.append((event, plans[version.pk] if version is not None else None))
    # Segments are read only when the version changes: a clock keeps the commitment its
    # segment chose when it opened (the lead's fields may have changed since).
    fields_by_lead = _fields_by_lead(
        {
            event.lead_id
            for event, plan in targets
            if plan is not None
            and plan.needs_lead_fields
            and not (
                own[event.pk] and all(c.sla_version_id == plan.version.pk for c in own[event.pk])
            )
        }
    )
    moved: list[SlaClock] = []
    opened: list[SlaClock] = []
    deleted: list[int] = []
    for event, plan in targets:
        clocks = own[event.pk]
        if plan is None:
            deleted += [clock.pk for clock in clocks]
            continue
        if clocks and all(clock.sla_version_id == plan.version.pk for clock in clocks):
            pairs = [(clock, clock.commitment) for clock in clocks]
        else:
            spare = list(clocks)
            pairs = []
            for commitment in plan.applicable(fields_by_lead.get(event.lead_id, {})):
                kind = CLOCK_KIND_BY_METRIC[commitment.metric]
                clock = next((c for c in spare if c.kind == kind), None)
                if clock is None:
                    opened.append(plan.clock(event, commitment, created_at=now))
                    continue
                spare.remove(clock)
                pairs.append((clock, commitment))
            deleted += [clock.pk for clock in spare]
        for clock, commitment in pairs:
            due_at = plan.due_at(commitment, event.qualified_at)
            if (clock.commitment_id, clock.started_at, clock.due_at) == (
                commitment.pk,
                event.qualified_at,
                due_at,
            ):
                continue
            clock.commitment, clock.sla_version = commitment, plan.version
            clock.started_at, clock.due_at = event.qualified_at, due_at
            if clock.breached_at is not None:
                clock.breached_at = due_at  # it ran out at its (new) due time
            moved.append(clock)
    with transaction.atomic():
        if deleted:
            SlaClock.objects.filter(pk__in=deleted).delete()
        if moved:
            with connection.cursor() as cursor:
                cursor.execute(
                    _CLOCK_MOVE,
                    [
                        [c.pk for c in moved],
                        [c.commitment_id for c in moved],
                        [c.sla_version_id for c in moved],
                        [c.started_at for c in moved],
                        [c.due_at for c in moved],
                        [c.breached_at for c in moved],
                    ],
                )
        _clocks_insert(opened)
        if moved or opened or deleted:
            clocks_sync(lead_ids={event.lead_id for event in events}, now=now)
    return len(moved) + len(opened) + len(deleted)


def _facts_by_lead(queryset, lead_ids: Iterable[int], since: datetime) -> dict[int, list[datetime]]:
    """Ascending UTC fact times per lead, from one query."""
    found: dict[int, list[datetime]] = defaultdict(list)
    rows = (
        queryset.filter(lead_id__in=list(lead_ids), occurred_at__gte=since)
        .order_by("lead_id", "occurred_at", "id")
        .values_list("lead_id", "occurred_at")
    )
    for lead_id, occurred_at in rows:
        found[lead_id].append(occurred_at.astimezone(UTC))
    return found


def clocks_sync(*, lead_ids: Iterable[int], now: datetime | None = None) -> int:
    """Set met_at/state of the leads' clocks from stored touches and dispositions (facts may
    arrive late or out of order). Returns how many clocks changed.

    Per batch of leads: three reads (clocks, touches, final dispositions) and one update.
    A late fact makes the clock breached with met_at set; a clock nobody met stays
    pending: marking it breached when time runs out is the compliance sweep's job.
    """
    now = now or timezone.now()
    ids = sorted({int(i) for i in lead_ids})
    changed = 0
    for start in range(0, len(ids), SYNC_BATCH):
        changed += _clocks_sync_batch(ids[start : start + SYNC_BATCH], now)
    return changed


_CLOCK_STATE = f"""
UPDATE {CLOCK} AS k SET met_at = v.met_at, state = v.state, breached_at = v.breached_at
FROM jsonb_to_recordset(%s::jsonb) AS v(
    id bigint, met_at timestamptz, state varchar, breached_at timestamptz)
WHERE k.id = v.id
"""  # noqa: S608 - table name from the model; every value is a parameter


def _clocks_sync_batch(lead_ids: list[int], now: datetime) -> int:
    clocks = list(
        SlaClock.objects.filter(lead_id__in=lead_ids).values_list(
            "id",
            "lead_id",
            "kind",
            "started_at",
            "due_at",
            "met_at",
            "state",
            "breached_at",
            "commitment__params",
        )
    )
    if not clocks:
        return 0
    since = min(clock[3] for clock in clocks)
    clock_leads = {clock[1] for clock in clocks}
    touches = _facts_by_lead(
        Activity.objects.filter(family=ActivityFamily.SALES_TOUCH), clock_leads, since
    )
    needs_dispositions = {c[1] for c in clocks if c[2] != ClockKind.FIRST_CONTACT}
    finals = (
        _facts_by_lead(
            Disposition.objects.filter(outcome__in=FINAL_OUTCOMES), needs_dispositions, since
        )
        if needs_dispositions
        else {}
    )
    updated: list[tuple] = []
    for pk, lead_id, kind, started_at, due_at, met_at, state, breached_at, params in clocks:
        lead_touches = touches.get(lead_id, [])
        lead_finals = finals.get(lead_id, [])
        if kind == ClockKind.FIRST_CONTACT:
            met = clock_rules.first_at_or_after(lead_touches, started_at)
        elif kind == ClockKind.DISPOSITION:
            met = clock_rules.first_at_or_after(lead_finals, started_at)
        else:
            met = clock_rules.follow_up_met_at(
                lead_touches,
                lead_finals,
                started_at=started_at,
                due_at=due_at,
                touches_needed=int((params or {}).get("touches", 1)),
            )
        update = clock_rules.clock_update(
            met_at=met, due_at=due_at, state=state, breached_at=breached_at, now=now
        )
        if (update.met_at, update.state, update.breached_at) != (met_at, state, breached_at):
            updated.append((pk, update.met_at, update.state, update.breached_at))
    if updated:
        with connection.cursor() as cursor:
            document = [
                {"id": pk, "met_at": met_at, "state": state, "breached_at": breached_at}
                for pk, met_at, state, breached_at in updated
            ]
            cursor.execute(_CLOCK_STATE, [json.dumps(document, default=datetime.isoformat)])
    return len(updated)


# Whether clock `k` (of commitment `c`) is satisfied by the facts known up to {until}: a touch
# (first contact), a final disposition (disposition), N touches or a final disposition
# (follow-up cadence). `%(final)s` is FINAL_OUTCOMES. The compliance sweep's due-soon
# warnings read it too.
CLOCK_SATISFIED = f"""
    CASE k.kind
      WHEN 'first_contact' THEN EXISTS (
        SELECT 1 FROM {ACTIVITY} a
        WHERE a.lead_id = k.lead_id AND a.family = 'sales_touch'
          AND a.occurred_at >= k.started_at AND a.occurred_at <= {{until}})
      WHEN 'disposition' THEN EXISTS (
        SELECT 1 FROM {DISPOSITION} d
        WHERE d.lead_id = k.lead_id AND d.outcome = ANY(%(final)s)
          AND d.occurred_at >= k.started_at AND d.occurred_at <= {{until}})
      ELSE (
        SELECT count(*) FROM {ACTIVITY} a
        WHERE a.lead_id = k.lead_id AND a.family = 'sales_touch'
          AND a.occurred_at >= k.started_at AND a.occurred_at <= {{until}}
      ) >= COALESCE((c.params->>'touches')::int, 1)
      OR EXISTS (
        SELECT 1 FROM {DISPOSITION} d
        WHERE d.lead_id = k.lead_id AND d.outcome = ANY(%(final)s)
          AND d.occurred_at >= k.started_at AND d.occurred_at <= {{until}})
    END"""  # noqa: S608 - table names from the models; every value is a parameter

_CLOCKS_BREACH = f"""
UPDATE {CLOCK} k SET state = 'breached', breached_at = k.due_at
FROM {COMMITMENT} c
WHERE c.id = k.commitment_id AND k.state = 'pending' AND k.due_at < %(now)s
  AND NOT ({CLOCK_SATISFIED.format(until="k.due_at")})
"""  # noqa: S608 - table names from the models; every value is a parameter


def clocks_breach(*, now: datetime) -> int:
    """Mark pending clocks past due, and not satisfied by the facts, breached: one UPDATE.

    A clock whose due time equals now is still pending (metrics.py's boundary); its
    breached_at is its due time. Returns how many clocks it marked.
    """
    with connection.cursor() as cursor:
        cursor.execute(_CLOCKS_BREACH, {"now": now, "final": _FINAL})
        return cursor.rowcount


def backfill_events(version: SlaVersion):
    """The MQL events a signed version governs that have no clock yet."""
    events = MqlEvent.objects.filter(
        qualified_at__gte=version.effective_at, sla_clocks__isnull=True
    )
    if version.superseded_at is not None:
        events = events.filter(qualified_at__lt=version.superseded_at)
    return events
