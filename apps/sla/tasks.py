"""Celery tasks of the SLA app; each runs in the schema it was sent from."""

from celery import shared_task
from django.db import DatabaseError

from apps.handoff import channels
from apps.sla.models import SlaVersion
from apps.sla.services import CLOCKS_BACKFILL_TASK


@shared_task(
    name=CLOCKS_BACKFILL_TASK,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    max_retries=5,
    retry_backoff=True,
)
def sla_clocks_backfill_task(version_id: int) -> int:
    """Open clocks, and refresh the fact rows, of the MQLs a just-signed, back-dated version
    governs (idempotent)."""
    version = SlaVersion.objects.filter(pk=version_id).first()
    if version is None:
        return 0
    return channels.sla_version_backfill(version=version)
