"""The per-MQL-event fact table (MqlEventFact): one write path, incremental or full.

``facts_refresh(lead_ids=…)`` recomputes the rows of every MQL and PQL event of the
given leads from the raw facts — events, the lead row, assignments, SLA clocks, sales
touches, dispositions, stage changes — in a fixed number of statements whatever the
batch size:

1. DELETE the rows of those leads whose event is gone;
2. INSERT … SELECT … ON CONFLICT (event_id) DO UPDATE of every event of those leads,
   writing only rows that changed, RETURNING the rows whose business hours to first
   touch must be computed again (new first touch, moved ``mql_at`` or other version);
3. when there are such rows: one SELECT of their SLA versions, and one UPDATE … FROM
   unnest with the business seconds computed in Python with each version's frozen
   calendar (apps/sla/business_time.py) — bounded by the batch's events.

``facts_rebuild()`` empties the table and runs the very same statements over every
lead, in chunks of lead ids: rebuild and incremental are one code path with a different
lead filter, and tests/compliance/test_facts.py proves they agree.

The hand-off pipeline (apps/handoff/pipeline.py) calls ``facts_refresh`` as its last
step for the leads a batch touched, inside the batch's transaction, and after the clocks
a back-dated SLA version's back-fill opens (``version_backfill``): the only other moment
a row's columns change. The compliance sweep's breaches change no column here (state,
met and breached times are not stored; they are read from the due instants and facts).

Column semantics (DESIGN.md "Metric semantics", as apps/compliance/metrics.py and
metric_sql.py compute them): an event's window is ``[mql_at, window_end)`` with
``window_end`` the ``qualified_at`` of the lead's next event of the same kind (ties
broken by id); touches, the first final disposition and the conversion count only
inside it; the SLA version is the event's clocks' version, else the signed version in
force at ``mql_at``; ``sql_at`` is the lead's first SQL time when it lies in the
window, else the first stage change to SQL inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from apps.compliance.models import MqlEventFact
from apps.dispositions.models import FINAL_OUTCOMES, Disposition
from apps.leads.models import Activity, ActivityFamily, Assignment, Lead, Stage, StageChange
from apps.mql.models import MqlDefinition, MqlEvent
from apps.sla import business_time
from apps.sla.models import ClockKind, Commitment, SlaClock, SlaVersion
from apps.sla.selectors import calendar_for_version

__all__ = ["REBUILD_CHUNK", "facts_rebuild", "facts_refresh"]

FACT = MqlEventFact._meta.db_table
EVENT = MqlEvent._meta.db_table
DEFINITION = MqlDefinition._meta.db_table
LEAD = Lead._meta.db_table
ASSIGNMENT = Assignment._meta.db_table
CLOCK = SlaClock._meta.db_table
COMMITMENT = Commitment._meta.db_table
VERSION = SlaVersion._meta.db_table
ACTIVITY = Activity._meta.db_table
DISPOSITION = Disposition._meta.db_table
STAGE_CHANGE = StageChange._meta.db_table

# Leads per round of the full rebuild (each round is one refresh).
REBUILD_CHUNK = 5000

# Written by the upsert, compared to skip unchanged rows (all but the business seconds,
# derived afterwards, and refreshed_at).
_COLUMNS = (
    "lead_id",
    "kind",
    "mql_at",
    "window_end",
    "definition_id",
    "definition_version",
    "owner_at_mql_id",
    "owner_id",
    "source",
    "campaign",
    "sla_version_id",
    "first_contact_due",
    "follow_up_due",
    "disposition_due",
    "cadence_touches",
    "cadence_days",
    "first_touch_at",
    "nth_touch_at",
    "touch_count",
    "disposition_at",
    "disposition_outcome",
    "disposition_reason_code_id",
    "sql_at",
)

_IN_WINDOW = "{column} >= e.mql_at AND (e.window_end IS NULL OR {column} < e.window_end)"

_DELETE = f"""
DELETE FROM {FACT} f
WHERE f.lead_id = ANY(%(lead_ids)s::bigint[])
  AND NOT EXISTS (SELECT 1 FROM {EVENT} e WHERE e.id = f.event_id AND e.lead_id = f.lead_id)
"""  # noqa: S608 - table names only; values are bound

# The facts of each event of the leads, one row per event. Every lookup is an index
# range on (lead, time) of its table, evaluated once per event (LATERAL).
_SELECT = f"""
WITH e AS MATERIALIZED (
  SELECT ev.id AS event_id, ev.lead_id, ev.kind, ev.qualified_at AS mql_at,
         ev.definition_id, d.version AS definition_version, nx.window_end
  FROM {EVENT} ev
  JOIN {DEFINITION} d ON d.id = ev.definition_id
  LEFT JOIN LATERAL (
    SELECT n.qualified_at AS window_end FROM {EVENT} n
    WHERE n.lead_id = ev.lead_id AND n.kind = ev.kind AND n.qualified_at >= ev.qualified_at
      AND (n.qualified_at, n.id) > (ev.qualified_at, ev.id)
    ORDER BY n.qualified_at, n.id LIMIT 1
  ) nx ON true
  WHERE ev.lead_id = ANY(%(lead_ids)s::bigint[])
)
SELECT e.event_id, e.lead_id, e.kind, e.mql_at, e.window_end,
       e.definition_id, e.definition_version,
       COALESCE(
         (SELECT a.owner_id FROM {ASSIGNMENT} a
          WHERE a.lead_id = e.lead_id AND a.assigned_at <= e.mql_at
          ORDER BY a.assigned_at DESC, a.id DESC LIMIT 1),
         (SELECT a.owner_id FROM {ASSIGNMENT} a
          WHERE a.lead_id = e.lead_id AND {_IN_WINDOW.format(column="a.assigned_at")}
          ORDER BY a.assigned_at, a.id LIMIT 1)) AS owner_at_mql_id,
       l.owner_id, l.source, l.campaign,
       COALESCE(k.version_id,
         (SELECT v.id FROM {VERSION} v
          WHERE v.status IN ('active', 'superseded') AND v.effective_at <= e.mql_at
            AND (v.superseded_at IS NULL OR v.superseded_at > e.mql_at)
          ORDER BY v.effective_at DESC, v.id DESC LIMIT 1)) AS sla_version_id,
       k.first_contact_due, k.follow_up_due, k.disposition_due,
       k.cadence_touches, k.cadence_days,
       t.first_touch_at, nth.nth_touch_at, t.touch_count,
       fd.disposition_at, COALESCE(fd.disposition_outcome, '') AS disposition_outcome,
       fd.disposition_reason_code_id,
       CASE WHEN l.sql_at IS NOT NULL AND {_IN_WINDOW.format(column="l.sql_at")} THEN l.sql_at
            ELSE (SELECT min(sc.occurred_at) FROM {STAGE_CHANGE} sc
                  WHERE sc.lead_id = e.lead_id AND sc.to_stage = '{Stage.SQL}'
                    AND {_IN_WINDOW.format(column="sc.occurred_at")}) END AS sql_at
FROM e
JOIN {LEAD} l ON l.id = e.lead_id
CROSS JOIN LATERAL (
  -- every clock of an event has one version (opened, or re-dated, together); of two
  -- commitments of one kind, the first commitment's clock speaks for the event
  SELECT min(c.sla_version_id) AS version_id,
         (array_agg(c.due_at ORDER BY c.commitment_id)
            FILTER (WHERE c.kind = '{ClockKind.FIRST_CONTACT}'))[1] AS first_contact_due,
         (array_agg(c.due_at ORDER BY c.commitment_id)
            FILTER (WHERE c.kind = '{ClockKind.FOLLOW_UP}'))[1] AS follow_up_due,
         (array_agg(c.due_at ORDER BY c.commitment_id)
            FILTER (WHERE c.kind = '{ClockKind.DISPOSITION}'))[1] AS disposition_due,
         (array_agg((m.params->>'touches')::int ORDER BY c.commitment_id)
            FILTER (WHERE c.kind = '{ClockKind.FOLLOW_UP}'))[1] AS cadence_touches,
         (array_agg((m.params->>'days')::int ORDER BY c.commitment_id)
            FILTER (WHERE c.kind = '{ClockKind.FOLLOW_UP}'))[1] AS cadence_days
  FROM {CLOCK} c JOIN {COMMITMENT} m ON m.id = c.commitment_id
  WHERE c.mql_event_id = e.event_id
) k
CROSS JOIN LATERAL (
  SELECT min(a.occurred_at) AS first_touch_at, count(*) AS touch_count FROM {ACTIVITY} a
  WHERE a.lead_id = e.lead_id AND a.family = '{ActivityFamily.SALES_TOUCH}'
    AND {_IN_WINDOW.format(column="a.occurred_at")}
) t
LEFT JOIN LATERAL (
  SELECT a.occurred_at AS nth_touch_at FROM {ACTIVITY} a
  WHERE k.cadence_touches >= 1
    AND a.lead_id = e.lead_id AND a.family = '{ActivityFamily.SALES_TOUCH}'
    AND {_IN_WINDOW.format(column="a.occurred_at")}
  ORDER BY a.occurred_at, a.id OFFSET k.cadence_touches - 1 LIMIT 1
) nth ON true
LEFT JOIN LATERAL (
  SELECT d.occurred_at AS disposition_at, d.outcome AS disposition_outcome,
         d.reason_code_id AS disposition_reason_code_id
  FROM {DISPOSITION} d
  WHERE d.lead_id = e.lead_id AND d.outcome = ANY(%(final)s)
    AND {_IN_WINDOW.format(column="d.occurred_at")}
  ORDER BY d.occurred_at, d.id LIMIT 1
) fd ON true
"""  # noqa: S608 - table names and enum values only; values are bound

_UPSERT = f"""
INSERT INTO {FACT} (event_id, {", ".join(_COLUMNS)}, first_contact_business_seconds,
                    refreshed_at)
SELECT s.*, NULL::float8, %(now)s FROM ({_SELECT}) s
ON CONFLICT (event_id) DO UPDATE SET
  {", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)},
  first_contact_business_seconds = CASE
    WHEN f.mql_at = EXCLUDED.mql_at
     AND f.first_touch_at IS NOT DISTINCT FROM EXCLUDED.first_touch_at
     AND f.sla_version_id IS NOT DISTINCT FROM EXCLUDED.sla_version_id
    THEN f.first_contact_business_seconds END,
  refreshed_at = EXCLUDED.refreshed_at
WHERE ({", ".join(f"f.{c}" for c in _COLUMNS)})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _COLUMNS)})
RETURNING event_id, mql_at, first_touch_at, sla_version_id, first_contact_business_seconds
"""  # noqa: S608 - table and column names only; values are bound

_UPSERT = _UPSERT.replace(f"INSERT INTO {FACT} (", f"INSERT INTO {FACT} AS f (", 1)

_SET_SECONDS = f"""
UPDATE {FACT} f SET first_contact_business_seconds = v.seconds
FROM unnest(%(ids)s::bigint[], %(seconds)s::float8[]) AS v(event_id, seconds)
WHERE f.event_id = v.event_id
"""  # noqa: S608 - table names only; values are bound


@transaction.atomic(savepoint=False)  # one unit with the caller's facts
def facts_refresh(*, lead_ids: Iterable[int], now: datetime) -> int:
    """Recompute the fact rows of every MQL/PQL event of ``lead_ids`` from the raw facts.

    A fixed number of statements (at most four) whatever the number of leads; rows that
    did not change are not written. Returns the number of rows inserted or changed.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return 0
    params: dict[str, Any] = {"lead_ids": ids, "now": now, "final": sorted(FINAL_OUTCOMES)}
    with connection.cursor() as cursor:
        cursor.execute(_DELETE, params)
        cursor.execute(_UPSERT, params)
        written = cursor.fetchall()
        pending = [
            (event_id, mql_at, touch_at, version_id)
            for event_id, mql_at, touch_at, version_id, seconds in written
            if touch_at is not None and version_id is not None and seconds is None
        ]
        if pending:
            seconds = _business_seconds(pending)
            cursor.execute(
                _SET_SECONDS,
                {"ids": [row[0] for row in pending], "seconds": seconds},
            )
    return len(written)


def facts_rebuild(*, now: datetime, chunk: int = REBUILD_CHUNK) -> int:
    """Empty the table and compute every row again from the raw facts (the same SQL as
    ``facts_refresh``, over every lead with an event, ``chunk`` leads at a time), in one
    transaction. Returns the number of rows written."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # DELETE, not TRUNCATE: the application's database role may not truncate.
            cursor.execute(f"DELETE FROM {FACT}")  # noqa: S608 - table name only
            cursor.execute(f"SELECT DISTINCT lead_id FROM {EVENT} ORDER BY lead_id")  # noqa: S608 - table name only
            lead_ids = [row[0] for row in cursor.fetchall()]
        written = 0
        for start in range(0, len(lead_ids), chunk):
            written += facts_refresh(lead_ids=lead_ids[start : start + chunk], now=now)
        return written


def _business_seconds(rows: list[tuple[int, datetime, datetime, int]]) -> list[float | None]:
    """Business seconds mql_at -> first touch, each in its version's frozen calendar."""
    versions = {v.pk: v for v in SlaVersion.objects.filter(pk__in={row[3] for row in rows})}
    calendars: dict[int, business_time.BusinessCalendar] = {}
    seconds: list[float | None] = []
    for _event_id, mql_at, touch_at, version_id in rows:
        version = versions.get(version_id)
        if version is None:
            seconds.append(None)
            continue
        if version_id not in calendars:
            calendars[version_id] = calendar_for_version(version, mode=business_time.BUSINESS)
        seconds.append(
            business_time.between(calendars[version_id], mql_at, touch_at).total_seconds()
        )
    return seconds
