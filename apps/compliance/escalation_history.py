"""Escalation episodes found in back-filled history: recorded, never sent.

A month imported after the fact can hold an episode ("below 80 % for 2 consecutive closed
weeks") that ended long before anyone could act on it. The sweep only sends escalations
whose firing period is among the last COMPLIANCE_ESCALATION_LOOKBACK closed periods (paging
the executive about last year helps nobody); older episodes are recorded here instead: one
``Alert`` row per episode, marked ``found_in_backfill``, with no delivery, so the scorecard
and the API show the history and nobody is notified. The row takes the same unique key as a
sent escalation (commitment, period, kind, rule), so an episode is recorded once, and an
episode that was sent is never recorded again as history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from apps.compliance.models import Alert, AlertKind

ALERT = Alert._meta.db_table


def escalation_history_record(*, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """Insert the episodes (rows as escalations_evaluate builds them) that are not recorded
    yet, without deliveries; returns how many were new. One statement."""
    if not rows:
        return 0
    values = ", ".join(["(%s, %s, %s, %s, %s, %s::jsonb, TRUE, %s)"] * len(rows))
    params: list[Any] = []
    for row in rows:
        params += [
            AlertKind.ESCALATION.value,
            row["commitment_id"],
            row["rule_id"],
            row["period_kind"],
            row["period_start"],
            json.dumps(row["payload"]),
            now,
        ]
    sql = f"""
        INSERT INTO {ALERT} (kind, commitment_id, escalation_rule_id, period_kind, period_start,
                             payload, found_in_backfill, created_at)
        VALUES {values}
        ON CONFLICT DO NOTHING
        RETURNING id"""  # noqa: S608 - table names and placeholders only; values are bound
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())
