"""Demo compliance for Acme Analytics: 90 days of snapshots and one sweep, so the bell rings.

Runs after the dispositions demo (the facts are all there by then). It uses the same
code as the ``recompute_snapshots`` management command for the history (every week,
month and quarter of the last 90 days, frozen as of their end), then one sweep as the
worker would run it: breaches of the last day, due-soon warnings on the open clocks,
red commitments, escalations. In-app notifications are delivered at once so they are
there at the first login; email digests wait for the worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apps.compliance.outbox import in_app_deliver
from apps.compliance.services import snapshots_recompute, tenant_sweep


def seed(*, now: datetime, rng) -> None:
    snapshots_recompute(first_day=(now - timedelta(days=90)).date(), last_day=now.date(), now=now)
    tenant_sweep(worker="demo seed", now=now)
    in_app_deliver(now=now)
