"""Every way facts come in: each channel stores its facts, then runs the hand-off, in one transaction.

Views, API views, tasks, the demo seeds and the benchmark call these, never the
storing services directly: the storing services (apps/leads/services.py,
apps/dispositions/services.py) say what they touched, and apps/handoff/pipeline.py
does what follows (qualify → stage → route → clocks).

`now` can be passed in (the demo seed replays 90 days of history as if live); it is
the clock of the whole batch: validation ("not in the future"), stamps and rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.exceptions import DomainError
from apps.accounts.models import User
from apps.dispositions import services as disposition_services
from apps.dispositions.models import Disposition, ReasonCode
from apps.dispositions.services import BulkReport, DispositionItem
from apps.handoff.pipeline import HandOff, hand_off, version_backfill
from apps.leads import owners, stages
from apps.leads import services as lead_services
from apps.leads.models import Activity, Assignment, ImportJob, Lead
from apps.leads.services import BulkResult, Touched, WebhookResult
from apps.sla import clocks
from apps.sla.models import SlaVersion

__all__ = [
    "activities_ingest",
    "disposition_create",
    "disposition_undo",
    "dispositions_bulk_create",
    "import_job_run",
    "lead_reassign",
    "lead_route_now",
    "leads_upsert",
    "sla_version_backfill",
    "touch_log",
    "touch_record",
    "webhook_receive",
]


# --- leads and activities (API, webhook, CSV, system) -----------------------------------


@transaction.atomic
def leads_upsert(
    *, items: Sequence[Any], channel: str, actor, now: datetime | None = None
) -> BulkResult:
    """Create or update leads by external_id, then hand off what changed (row-by-row errors)."""
    now = now or timezone.now()
    result = lead_services.leads_store(items=items, channel=channel, actor=actor, now=now)
    hand_off(touched=result.touched, now=now)
    return result


@transaction.atomic
def activities_ingest(
    *, items: Sequence[Any], channel: str, actor, now: datetime | None = None
) -> BulkResult:
    """Append activities by external_id (idempotent), then hand off the leads they touched."""
    now = now or timezone.now()
    result = lead_services.activities_store(items=items, channel=channel, actor=actor, now=now)
    hand_off(touched=result.touched, now=now)
    return result


@transaction.atomic
def webhook_receive(*, source: str, payload: Any, now: datetime | None = None) -> WebhookResult:
    """Upsert the leads of one CRM webhook call through the organization's field mapping."""
    now = now or timezone.now()
    read = lead_services.webhook_items(source=source, payload=payload)
    result = leads_upsert(items=read.items, channel="webhook", actor=None, now=now)
    lead_services.webhook_received(now=now)
    return WebhookResult(result=result, ignored=read.ignored, unmapped=read.unmapped)


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued CSV import chunk by chunk; each chunk commits with its progress (and its
    hand-off), so a re-run resumes after the last committed chunk."""
    job = lead_services.import_job_begin(job_id=job_id)
    if job.is_finished or job.status == ImportJob.Status.UPLOADED:
        return job
    try:
        done = 0
        for rows in lead_services.import_chunks(job=job):
            with transaction.atomic():
                job, chunk = lead_services.import_chunk_read(job_id=job_id, chunk=rows, done=done)
                if chunk.rows:
                    result = (
                        leads_upsert(items=chunk.items, channel="csv", actor=job.created_by)
                        if chunk.items
                        else BulkResult()
                    )
                    lead_services.import_chunk_record(job=job, chunk=chunk, result=result)
            done += len(rows)
        return lead_services.import_job_finish(job_id=job_id)
    except Exception as exc:  # the report must say what happened; re-raised for the worker
        lead_services.import_job_fail(job_id=job_id, error=exc)
        raise


def touch_log(
    *,
    lead: Lead,
    kind: str,
    actor,
    note: str = "",
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> Activity:
    """Log one sales touch by a person from the UI (the rep queue's one-click buttons)."""
    now = now or timezone.now()
    item = lead_services.touch_item(
        lead=lead, kind=kind, actor=actor, note=note, occurred_at=occurred_at, now=now
    )
    result = activities_ingest(items=[item], channel="ui", actor=actor, now=now)
    if result.rejected:
        field_name, messages = next(iter(result.errors[0]["errors"].items()))
        raise DomainError(messages[0], field=field_name)
    return Activity.objects.select_related("actor").get(external_id=item["external_id"])


def touch_record(
    *, lead: Lead, kind: str, actor, note: str = "", occurred_at: datetime | None = None
) -> Activity:
    """Log a sales touch from the queue or the lead page: who may is checked first."""
    note = disposition_services.touch_check(lead=lead, kind=kind, actor=actor, note=note)
    return touch_log(lead=lead, kind=kind, actor=actor, note=note, occurred_at=occurred_at)


# --- sales feedback --------------------------------------------------------------------


@transaction.atomic
def disposition_create(
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
) -> Disposition:
    """Record sales feedback on an MQL, move its stage, close the clocks it settles.

    See apps.dispositions.services.disposition_store for the rules; the caller's lead
    object follows the stage the disposition moved it to.
    """
    now = now or timezone.now()
    disposition, recorded = disposition_services.disposition_store(
        lead=lead,
        outcome=outcome,
        reason_code=reason_code,
        note=note,
        actor=actor,
        occurred_at=occurred_at,
        channel=channel,
        external_id=external_id,
        now=now,
    )
    _feedback_hand_off(recorded, now=now)
    locked = recorded.leads[lead.pk]
    for name in ("stage", "stage_changed_at", "sql_at", "updated_at"):
        setattr(lead, name, getattr(locked, name))
    return disposition


@transaction.atomic
def dispositions_bulk_create(
    *,
    items: Sequence[DispositionItem],
    principal,
    channel: str = "api",
    now: datetime | None = None,
) -> BulkReport:
    """Record many dispositions (each item stands alone, reported by index), then hand off."""
    now = now or timezone.now()
    report, recorded = disposition_services.dispositions_store(
        items=items, principal=principal, channel=channel, now=now
    )
    _feedback_hand_off(recorded, now=now)
    return report


@transaction.atomic
def disposition_undo(
    *, disposition: Disposition, actor, now: datetime | None = None
) -> Disposition:
    """Take back a disposition given moments ago (the queue's Undo): the lead returns to the
    stage it had and the clocks the disposition closed run again. See
    apps.dispositions.services.disposition_take_back for who may and until when."""
    now = now or timezone.now()
    taken = disposition_services.disposition_take_back(
        disposition=disposition, actor=actor, now=now
    )
    if taken.stage_change is not None:
        stages.stage_change_undo(lead=taken.lead, stage_change=taken.stage_change, now=now)
    hand_off(now=now, touched=Touched(clocks_touched=(taken.lead.pk,)))
    return taken.disposition


def _feedback_hand_off(recorded: disposition_services.Recorded, *, now: datetime) -> HandOff:
    return hand_off(
        now=now,
        moves=recorded.moves,
        leads=recorded.leads,
        touched=Touched(clocks_touched=tuple(recorded.lead_ids)),
    )


# --- owners by hand --------------------------------------------------------------------


@transaction.atomic
def lead_reassign(*, lead: Lead, owner: User, actor, reason: str = "") -> Assignment:
    """Give a lead to another person by hand (sales leader), keeping the assignment record."""
    assignment = owners.lead_reassign(lead=lead, owner=owner, actor=actor, reason=reason)
    hand_off(now=assignment.assigned_at, assignments=[assignment])
    return assignment


@transaction.atomic
def lead_route_now(*, lead: Lead, actor) -> Assignment:
    """Run the routing rules on one lead by hand, replacing its owner if it has one."""
    assignment = owners.lead_route_now(lead=lead, actor=actor)
    hand_off(now=assignment.assigned_at, assignments=[assignment])
    return assignment


# --- an SLA version signed with a past effective date -----------------------------------

# MQL events per transaction of a back-fill: bounds each transaction's locks and arrays.
BACKFILL_BATCH = 2000


def sla_version_backfill(
    *, version: SlaVersion, now: datetime | None = None, batch: int = BACKFILL_BATCH
) -> int:
    """The MQL events a just-signed, back-dated version governs that have no clock: their
    clocks and fact rows, ``batch`` events per transaction (apps/sla/tasks.py runs it after
    the signature commits).

    MQLs that already have clocks keep them and their rows: a later SLA never moves an
    existing clock. Idempotent: a retry walks again the events still without a clock
    (those no commitment applies to), whose clocks and rows are then unchanged. Returns
    how many clocks it meant to open.
    """
    now = now or timezone.now()
    opened = 0
    last_id = 0
    while True:
        with transaction.atomic():
            events = list(
                clocks.backfill_events(version).filter(pk__gt=last_id).order_by("pk")[:batch]
            )
            if not events:
                return opened
            opened += version_backfill(mql_events=events, now=now)
        last_id = events[-1].pk
