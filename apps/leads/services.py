"""Writes on leads and activities: the one path for every lead write (ingestion, stage moves, routing)."""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from apps.leads.models import STAGE_TIMESTAMP, Lead, StageChange


@transaction.atomic
def lead_stage_change(
    *, lead: Lead, to_stage: str, occurred_at: datetime, actor=None, channel: str = "system"
) -> Lead:
    """Move a lead to a stage, stamp the stage time and keep the history row (no-op when already there)."""
    if lead.stage == to_stage:
        return lead
    StageChange.objects.create(
        lead=lead,
        from_stage=lead.stage,
        to_stage=to_stage,
        occurred_at=occurred_at,
        actor=actor if getattr(actor, "pk", None) else None,
        channel=channel,
    )
    lead.stage = to_stage
    lead.stage_changed_at = occurred_at
    fields = ["stage", "stage_changed_at", "updated_at"]
    stamp = STAGE_TIMESTAMP.get(to_stage)
    # mql_at is re-stamped by each new MQL event (a lead back from nurture can qualify again);
    # the other stage times keep their first value.
    if stamp and (stamp == "mql_at" or getattr(lead, stamp) is None):
        setattr(lead, stamp, occurred_at)
        fields.append(stamp)
    lead.save(update_fields=fields)
    return lead


def leads_route(*, lead_ids: Iterable[int], now: datetime | None = None) -> list:
    """SEAM (issue 3 owner replaces): assign an owner to each newly-MQL lead by the routing rules."""
    return []
