"""Lead stages: the one write path of `stage`, its time stamps and the StageChange history.

Whoever moves a lead — the CRM through an upsert, the MQL hand-off, a disposition, a
re-dated MQL — hands its moves here, for a whole batch at once:

- ``stages_move``: moves applied in order on the locked leads (a lead may move several
  times in a batch: each move is a history row), then written with one UPDATE … FROM
  unnest of the leads' final stage fields and one INSERT of the history rows;
- ``stages_redate``: an MQL event moved earlier: the lead's `mql_at` (and its
  `stage_changed_at` while it still sits in the stage that event moved it to) and the
  stage change into mql move with it, in two statements.

Stage times: entering a stage stamps its time the first time only (`sql_at`,
`opportunity_at`, `closed_at`), except `mql_at`, which each new MQL event re-stamps (a
lead back from nurture can qualify again). A move to the stage the lead is in is a
no-op. Callers lock the leads (select_for_update, in id order) before deciding moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.exceptions import Conflict
from apps.leads.models import STAGE_TIMESTAMP, Lead, StageChange

LEAD = Lead._meta.db_table
STAGE_CHANGE = StageChange._meta.db_table
# The lead fields a stage move writes.
STAGE_FIELDS = ("stage", "stage_changed_at", "mql_at", "sql_at", "opportunity_at", "closed_at")


@dataclass(frozen=True)
class StageMove:
    """Move a lead to a stage at a moment; who and through which channel go in the history."""

    lead_id: int
    to_stage: str
    occurred_at: datetime
    channel: str = "system"
    actor_id: int | None = None


@dataclass(frozen=True)
class StageRedate:
    """An MQL event of the lead moved from `old_at` to `new_at` (earlier)."""

    lead_id: int
    old_at: datetime
    new_at: datetime
    # The stage change into mql the event made (None when there is none to move).
    change_id: int | None = None


def stage_apply(lead: Lead, to_stage: str, occurred_at: datetime) -> None:
    """Set the stage and its time stamps on the lead object (nothing is written)."""
    lead.stage = to_stage
    lead.stage_changed_at = occurred_at
    stamp = STAGE_TIMESTAMP.get(to_stage)
    if stamp and (stamp == "mql_at" or getattr(lead, stamp) is None):
        setattr(lead, stamp, occurred_at)


# A batch's rows travel as one JSON document (jsonb_to_recordset): one string that libpq
# escapes, where arrays would be quoted element by element in Python.
_LEADS_UPDATE = f"""
UPDATE {LEAD} AS l SET stage = v.stage, stage_changed_at = v.stage_changed_at,
       mql_at = v.mql_at, sql_at = v.sql_at, opportunity_at = v.opportunity_at,
       closed_at = v.closed_at, updated_at = %s
FROM jsonb_to_recordset(%s::jsonb) AS v(
    id bigint, stage varchar, stage_changed_at timestamptz, mql_at timestamptz,
    sql_at timestamptz, opportunity_at timestamptz, closed_at timestamptz)
WHERE l.id = v.id
"""  # noqa: S608 - table name from the model; every value is a parameter

_HISTORY_INSERT = f"""
INSERT INTO {STAGE_CHANGE} (lead_id, from_stage, to_stage, occurred_at, actor_id, channel,
                            recorded_at)
SELECT v.lead_id, v.from_stage, v.to_stage, v.occurred_at, v.actor_id, v.channel, %s
FROM jsonb_to_recordset(%s::jsonb) AS v(
    lead_id bigint, from_stage varchar, to_stage varchar, occurred_at timestamptz,
    actor_id bigint, channel varchar)
"""  # noqa: S608 - table name from the model; every value is a parameter


def stages_move(
    *, leads: Mapping[int, Lead], moves: Sequence[StageMove], now: datetime
) -> list[tuple[StageMove, str]]:
    """Apply the moves, in order, to the locked `leads` (by id) and write them: two statements.

    Returns the moves that changed something, each with the stage it left; the Lead
    objects hold their new stage fields.
    """
    applied: list[tuple[StageMove, str]] = []
    for move in moves:
        lead = leads[move.lead_id]
        if lead.stage == move.to_stage:
            continue
        applied.append((move, lead.stage))
        stage_apply(lead, move.to_stage, move.occurred_at)
    if not applied:
        return applied
    moved = list({move.lead_id: leads[move.lead_id] for move, _ in applied}.values())
    for lead in moved:
        lead.updated_at = now
    with connection.cursor() as cursor:
        cursor.execute(
            _LEADS_UPDATE,
            [
                now,
                json.dumps(
                    [
                        {"id": lead.pk, **{name: getattr(lead, name) for name in STAGE_FIELDS}}
                        for lead in moved
                    ],
                    default=datetime.isoformat,
                ),
            ],
        )
        cursor.execute(
            _HISTORY_INSERT,
            [
                now,
                json.dumps(
                    [
                        {
                            "lead_id": move.lead_id,
                            "from_stage": from_stage,
                            "to_stage": move.to_stage,
                            "occurred_at": move.occurred_at,
                            "actor_id": move.actor_id,
                            "channel": move.channel,
                        }
                        for move, from_stage in applied
                    ],
                    default=datetime.isoformat,
                ),
            ],
        )
    return applied


_REDATE_LEADS = f"""
UPDATE {LEAD} AS l SET mql_at = v.new_at, updated_at = %s,
       stage_changed_at = CASE WHEN l.stage = 'mql' AND l.stage_changed_at = v.old_at
                               THEN v.new_at ELSE l.stage_changed_at END
FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS v(id, old_at, new_at)
WHERE l.id = v.id
"""  # noqa: S608 - table name from the model; every value is a parameter

_REDATE_HISTORY = f"""
UPDATE {STAGE_CHANGE} AS c SET occurred_at = v.new_at
FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, new_at)
WHERE c.id = v.id
"""  # noqa: S608 - table name from the model; every value is a parameter


def stages_redate(
    *, redates: Sequence[StageRedate], now: datetime, leads: Iterable[Lead] = ()
) -> None:
    """Move the leads' mql_at (and the stage changes into mql) to their events' new moments.

    `stage_changed_at` follows only while the lead still sits in the stage that event
    moved it to (stage mql, changed at the old moment). Lead objects passed in `leads`
    are updated to match. Two statements for the batch.
    """
    if not redates:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _REDATE_LEADS,
            [
                now,
                [r.lead_id for r in redates],
                [r.old_at for r in redates],
                [r.new_at for r in redates],
            ],
        )
        changes = [r for r in redates if r.change_id is not None]
        if changes:
            cursor.execute(
                _REDATE_HISTORY,
                [[r.change_id for r in changes], [r.new_at for r in changes]],
            )
    by_lead = {r.lead_id: r for r in redates}
    for lead in leads:
        redate = by_lead.get(lead.pk)
        if redate is None:
            continue
        if lead.stage == "mql" and lead.stage_changed_at == redate.old_at:
            lead.stage_changed_at = redate.new_at
        lead.mql_at = redate.new_at
        lead.updated_at = now


@transaction.atomic
def lead_stage_change(
    *,
    lead: Lead,
    to_stage: str,
    occurred_at: datetime,
    actor=None,
    channel: str = "system",
    now: datetime | None = None,
) -> Lead:
    """Move one lead (locked here) to a stage: stages_move for a batch of one.

    A deliberate move outside the hand-off (an admin action, a test's set-up); the
    caller's object follows. No-op when the lead is already there.
    """
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    stages_move(
        leads={locked.pk: locked},
        moves=[
            StageMove(
                lead_id=locked.pk,
                to_stage=to_stage,
                occurred_at=occurred_at,
                channel=channel,
                actor_id=getattr(actor, "pk", None),
            )
        ],
        now=now or timezone.now(),
    )
    for name in (*STAGE_FIELDS, "updated_at"):
        setattr(lead, name, getattr(locked, name))
    return lead


def stage_change_undo(*, lead: Lead, stage_change: StageChange, now: datetime) -> Lead:
    """Take back the lead's latest stage move (a disposition undone moments after it was
    given; the lead is locked by the caller): the lead returns to the stage it came from and
    that stage's time, the time stamp the move set is cleared, and its history row goes (the
    audit log records the undo)."""
    history = lead.stage_changes.order_by("-occurred_at", "-id")
    latest = history.first()
    if (
        latest is None
        or latest.pk != stage_change.pk
        or lead.stage != stage_change.to_stage
        or not stage_change.from_stage  # the lead's creation is not a move to take back
    ):
        raise Conflict("The lead has moved on since; that stage change can no longer be undone.")
    earlier = history.exclude(pk=stage_change.pk)
    previous = earlier.first()
    fields = ["stage", "stage_changed_at", "updated_at"]
    lead.stage = stage_change.from_stage
    # When the lead entered the stage it returns to: its history, else that stage's stamp.
    entered = getattr(lead, STAGE_TIMESTAMP.get(stage_change.from_stage, ""), None)
    lead.stage_changed_at = previous.occurred_at if previous else entered or lead.created_at
    stamp = STAGE_TIMESTAMP.get(stage_change.to_stage)
    if (
        stamp
        and stamp != "mql_at"
        and getattr(lead, stamp) == stage_change.occurred_at
        and not earlier.filter(to_stage=stage_change.to_stage).exists()
    ):
        setattr(lead, stamp, None)
        fields.append(stamp)
    lead.updated_at = now
    stage_change.delete()
    Lead.objects.filter(pk=lead.pk).update(**{name: getattr(lead, name) for name in fields})
    return lead
