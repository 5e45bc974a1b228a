"""The hand-off step: what follows a batch of stored facts — qualify → stage → route → clocks.

Every channel (apps/handoff/channels.py: API, webhook, CSV import, the rep's touch,
dispositions, demo seed, bench) stores its facts through the services below it and
then runs `hand_off` once for the batch, in the same transaction, so nobody ever sees
facts the rules have not seen. Each step is one set-based call for the whole batch:

1. stage moves the facts imply (a disposition, handed in) — apps/leads/stages.py;
2. qualification of the touched leads — apps/mql/services.py (decides with the pure
   apps/mql/qualification.py, writes MqlEvent rows);
3. the new MQLs' stage change into `mql` — apps/leads/stages.py;
4. routing of the new MQLs without an owner — apps/leads/services.py;
5. their SLA clocks, and the clocks of re-dated MQLs — apps/sla/clocks.py; then
   periods whose history moved are recomputed (compliance snapshots, stored charts);
6. clocks of leads with a new sales touch or disposition read the facts again;
7. the per-MQL-event fact table (MqlEventFact) — apps/compliance/facts.py — recomputes
   the rows of every lead the batch touched (new or re-dated events, touches,
   dispositions, stage moves, lead field changes, reassignments): a few set-based
   statements, the same SQL as `manage.py facts_rebuild`.

`version_backfill` is the hand-off of the other fact that reaches back in time: an SLA
version signed with a past effective date. The MQL events it now governs that have no
clock get their clocks (step 5) and their fact rows (step 7) in one transaction — the
SLA version, due times and cadence of those rows change, and so does the version in
force of an event no commitment of the new version applies to.

Layers (tests/test_layers.py holds them):

    views · api · tasks · demo seeds · bench       (entry points)
        ↓
    apps/handoff: channels → pipeline             (this layer)
        ↓
    services · selectors · clocks · stages        (one write path per entity)
        ↓
    models · pure modules                         (rules, qualification, business_time …)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from apps.compliance import facts
from apps.compliance import services as compliance_services
from apps.dashboards import snapshots as chart_snapshots
from apps.leads import owners, stages
from apps.leads.models import Assignment, Lead, Stage
from apps.leads.services import Touched
from apps.leads.stages import StageMove, StageRedate
from apps.mql import services as mql_services
from apps.mql.models import MqlEvent
from apps.mql.services import Qualified, Redated
from apps.sla import clocks


@dataclass(frozen=True)
class HandOff:
    """What one batch's hand-off did."""

    # New MQL events (each moved its lead to stage mql).
    events: list[MqlEvent] = field(default_factory=list)
    # MQL events walked again because an older fact arrived (moved, or re-scored in place).
    redated: list[Redated] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    # Stage moves applied, with the stage each left (facts' moves, then the MQL moves).
    moves: list[tuple[StageMove, str]] = field(default_factory=list)


@transaction.atomic(savepoint=False)  # one unit with the channel that stored the facts
def hand_off(
    *,
    now: datetime,
    touched: Touched = Touched(),  # noqa: B008 - a frozen dataclass: an immutable default
    moves: Sequence[StageMove] = (),
    leads: Mapping[int, Lead] | None = None,
    assignments: Sequence[Assignment] = (),
) -> HandOff:
    """Run the hand-off for one batch of stored facts, inside the caller's transaction.

    `touched` says what the facts step stored; `moves` are stage moves the facts imply
    (dispositions), on the caller's locked `leads`; `assignments` are owner changes the
    channel made (a reassignment by hand). A fixed number of statements per step,
    whatever the batch size.
    """
    applied = stages.stages_move(leads=leads or {}, moves=moves, now=now) if moves else []
    qualified = (
        mql_services.leads_qualify(
            lead_ids=touched.lead_ids,
            now=now,
            earliest_new_activity=touched.earliest_new_activity,
        )
        if touched.lead_ids
        else Qualified()
    )
    routed: list[Assignment] = []
    if qualified.events:
        applied += stages.stages_move(
            leads=qualified.leads,
            moves=[
                StageMove(lead_id=event.lead_id, to_stage=Stage.MQL, occurred_at=event.qualified_at)
                for event in qualified.events
            ],
            now=now,
        )
        routed = owners.leads_route(
            lead_ids=[event.lead_id for event in qualified.events],
            now=now,
            locked=qualified.leads,
        )
        clocks.clocks_start(mql_events=qualified.events, now=now)
    _redated_follow(qualified.redated, leads=qualified.leads, now=now)
    if touched.clocks_touched:
        clocks.clocks_sync(lead_ids=touched.clocks_touched, now=now)
    result = HandOff(
        events=qualified.events,
        redated=qualified.redated,
        assignments=[*assignments, *routed],
        moves=applied,
    )
    facts.facts_refresh(lead_ids=_facts_leads(touched, result), now=now)
    return result


@transaction.atomic(savepoint=False)  # one unit with the chunk the channel picked
def version_backfill(*, mql_events: Sequence[MqlEvent], now: datetime) -> int:
    """Clocks and fact rows of MQL events without a clock that a version signed after the
    fact now governs (apps/handoff/channels.py picks them, chunk by chunk).

    The events' leads are locked in id order first, as the MQL engine locks them, so a
    batch of the same leads arriving meanwhile waits and then sees the clocks. A fixed
    number of statements for the chunk; returns how many clocks it meant to open.
    """
    events = list(mql_events)
    if not events:
        return 0
    lead_ids = sorted({event.lead_id for event in events})
    list(Lead.objects.select_for_update().filter(pk__in=lead_ids).order_by("pk").values_list("pk"))
    opened = clocks.clocks_start(mql_events=events, now=now)
    facts.facts_refresh(lead_ids=lead_ids, now=now)
    return opened


def _facts_leads(touched: Touched, result: HandOff) -> set[int]:
    """Every lead whose MQL events' facts the batch may have changed."""
    return {
        *touched.lead_ids,
        *touched.clocks_touched,
        *(event.lead_id for event in result.events),
        *(r.event.lead_id for r in result.redated),
        *(a.lead_id for a in result.assignments),
        *(move.lead_id for move, _left in result.moves),
    }


def _redated_follow(
    redated: Sequence[Redated], *, leads: Mapping[int, Lead], now: datetime
) -> None:
    """A moved MQL event takes its lead's mql_at, its stage change into mql and its clocks
    along; the periods it left and joined are recomputed."""
    moved = [r for r in redated if r.moved]
    if not moved:
        return
    stages.stages_redate(
        redates=[
            StageRedate(
                lead_id=r.event.lead_id,
                old_at=r.old_at,
                new_at=r.event.qualified_at,
                change_id=r.change_id,
            )
            for r in moved
        ],
        now=now,
        leads=leads.values(),
    )
    clocks.clocks_redate(mql_events=[r.event for r in moved], now=now)
    moments = sorted({m for r in moved for m in (r.old_at, r.event.qualified_at)})
    # Past periods' compliance snapshots and stored charts counted the old moment.
    compliance_services.snapshots_invalidate(moments=moments)
    chart_snapshots.history_changed_forget(moments=moments)
