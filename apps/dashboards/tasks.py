"""Celery tasks of the dashboards; each runs in the schema it was sent from."""

from celery import shared_task
from django.db import DatabaseError

from apps.dashboards.snapshots import CHARTS_REFRESH_TASK, charts_refresh


@shared_task(
    name=CHARTS_REFRESH_TASK,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    max_retries=3,
)
def charts_refresh_task(keys: list[str] | None = None) -> dict:
    """Recompute stale chart snapshots a reader asked for (``keys``), or, queued by beat's
    fan-out without keys, the default scopes of the organization. Idempotent."""
    return charts_refresh(keys=keys)
