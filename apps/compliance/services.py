"""Writes of the compliance engine: the minute sweep, snapshots, alerts, and people's settings.

The sweep (``tenant_sweep``) is set-based: a fixed number of SQL statements per
tenant whatever the number of leads. Each step is its own transaction and is
idempotent on its own, so a sweep killed at any point, or two sweeps running at
once, neither lose nor repeat an alert:

1. ``clocks_breach``: one UPDATE (apps.sla.clocks, the clocks' one write path) marks
   pending clocks past due (and not satisfied by the facts) breached; one INSERT ...
   SELECT raises a breach alert for every recently breached clock without one (ON
   CONFLICT DO NOTHING on the unique (clock, kind)), and the deliveries of the new
   alerts go in with them.
2. ``due_soon_warn``: one INSERT ... SELECT per calendar raises due-soon warnings
   for open clocks with at most the configured share of their window left.
3. ``snapshots_refresh``: freeze the periods that closed, refresh the open ones (with the
   per-owner counts of their clock kinds) and the pipeline-at-risk win rates.
4. ``commitments_red_alert`` and ``escalations_evaluate``: alerts keyed by
   (commitment, period, kind[, rule]).
5. ``deliveries_kick``: if any delivery is still owed, enqueue the delivery task
   again (covers broker messages lost in an outage or with a killed worker).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import DomainError
from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.compliance import config, destinations, kind_selectors, metric_sql, selectors
from apps.compliance.escalation_history import escalation_history_record
from apps.compliance.kinds import kind_keys
from apps.compliance.metrics import Metric, MetricResult, Status, escalation_episodes
from apps.compliance.models import (
    PERSONAL_CHANNELS,
    Alert,
    AlertDelivery,
    AlertKind,
    AlertSettings,
    Channel,
    ComplianceSnapshot,
    DeliveryStatus,
    Notification,
    NotificationMute,
    SweepRun,
    WinRateSnapshot,
)
from apps.compliance.periods import (
    Period,
    PeriodKind,
    following,
    period_for,
    period_starting,
    previous,
)
from apps.compliance.working_time import working_index
from apps.dashboards import services as dashboard_services
from apps.sla import clocks
from apps.sla.business_time import BUSINESS
from apps.sla.models import Commitment, EscalationRule, SlaVersion, Team
from apps.sla.selectors import calendar_for_version
from config.celery_app import app as celery_app

logger = logging.getLogger(__name__)

# Queued by name when alerts are owed (apps/compliance/tasks.py registers it under it).
ALERT_DELIVERIES_TASK = "apps.compliance.tasks.alert_deliveries_task"

ALERT = Alert._meta.db_table
DELIVERY = AlertDelivery._meta.db_table
MUTE = NotificationMute._meta.db_table
USER = User._meta.db_table
SNAPSHOT = ComplianceSnapshot._meta.db_table
COMMITMENT = Commitment._meta.db_table
KINDS = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER)
TEAM_LEADERS = {
    Team.MARKETING: (Role.MARKETING_LEADER,),
    Team.SALES: (Role.SALES_LEADER,),
    Team.SHARED: (Role.MARKETING_LEADER, Role.SALES_LEADER),
}


# --- the sweep --------------------------------------------------------------------------


def tenant_sweep(*, worker: str | None = None, now: datetime | None = None) -> SweepRun:
    """Run the periodic work for the current tenant schema and record the run.

    A failing step is logged and recorded in the run's stats; the others still run
    (alerts must not wait for a snapshot that cannot be computed).
    """
    now = now or timezone.now()
    run = SweepRun.objects.create(
        schema_name=connection.schema_name,
        worker=worker or socket.gethostname(),
        started_at=timezone.now(),
    )
    stats: dict[str, Any] = {}
    steps = (
        ("breaches", lambda: clocks_breach(now=now)),
        ("due_soon", lambda: due_soon_warn(now=now)),
        ("snapshots", lambda: snapshots_refresh(now=now)),
        ("red", lambda: commitments_red_alert(now=now)),
        ("escalations", lambda: escalations_evaluate(now=now)),
        ("owed_deliveries", lambda: deliveries_kick(now=now)),
        ("pruned_runs", lambda: sweep_runs_prune(now=now)),
        # The dashboards' scheduled reports ride on the same minute tick (their app owns them).
        ("reports", lambda: _dashboard_reports_send_due(now=now)),
    )
    for name, step in steps:
        try:
            stats[name] = step()
        except Exception:
            logger.exception("compliance sweep step %s failed in %s", name, connection.schema_name)
            stats.setdefault("errors", []).append(name)
    run.finished_at = timezone.now()
    run.stats = stats
    run.save(update_fields=["finished_at", "stats"])
    return run


def _dashboard_reports_send_due(*, now: datetime) -> int:
    return dashboard_services.reports_send_due(now=now)


def sweep_runs_prune(*, now: datetime) -> int:
    """Forget sweep runs older than COMPLIANCE_SWEEP_RUNS_KEPT_DAYS (one a minute adds up)."""
    keep = timedelta(days=config.value("COMPLIANCE_SWEEP_RUNS_KEPT_DAYS"))
    deleted, _ = SweepRun.objects.filter(started_at__lt=now - keep).delete()
    return deleted


# The clock is satisfied by the facts known up to {until} (the clocks module's definition).
_SATISFIED = clocks.CLOCK_SATISFIED

_CLOCK_PAYLOAD = """
    jsonb_build_object(
      'clock_kind', k.kind, 'started_at', k.started_at, 'due_at', k.due_at,
      'lead_id', l.id, 'lead_name', btrim(l.first_name || ' ' || l.last_name),
      'lead_email', l.email, 'company', l.company,
      'owner_id', l.owner_id, 'owner_name', COALESCE(NULLIF(u.name, ''), u.email),
      'commitment_id', c.id, 'commitment', COALESCE(NULLIF(c.label, ''), c.metric),
      'metric', c.metric, 'tz', %(tz)s::text)"""


def _execute(sql: str, params: dict[str, Any]) -> list[tuple]:
    query = metric_sql.bind(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        return cursor.fetchall() if cursor.description else []


@transaction.atomic
def clocks_breach(*, now: datetime) -> dict[str, int]:
    """Mark pending clocks past due as breached and alert the owner and the sales leaders.

    A clock whose due time equals now is still pending (metrics.py's boundary). Clocks
    that breached more than COMPLIANCE_BREACH_ALERT_MAX_AGE_HOURS ago (imported history)
    are marked but not alerted. Two statements plus the deliveries, in one transaction.
    """
    # The clocks module marks them (the one write path of clocks); alerts are ours.
    breached = clocks.clocks_breach(now=now)
    params = {"now": now, "tz": selectors.organization_timezone(now=now)}
    params["since"] = now - timedelta(hours=config.value("COMPLIANCE_BREACH_ALERT_MAX_AGE_HOURS"))
    rows = _execute(
        f"""
        INSERT INTO {ALERT} (kind, clock_id, lead_id, commitment_id, period_kind, payload, created_at)
        SELECT 'breach', k.id, k.lead_id, k.commitment_id, '', {_CLOCK_PAYLOAD}, %(now)s
        FROM {metric_sql.CLOCK} k
        JOIN {metric_sql.LEAD} l ON l.id = k.lead_id
        JOIN {COMMITMENT} c ON c.id = k.commitment_id
        LEFT JOIN {USER} u ON u.id = l.owner_id
        WHERE k.state = 'breached' AND k.due_at > %(since)s AND k.due_at < %(now)s
          AND NOT EXISTS (SELECT 1 FROM {ALERT} x WHERE x.clock_id = k.id AND x.kind = 'breach')
        ON CONFLICT DO NOTHING
        RETURNING id, (payload->>'owner_id')::bigint""",  # noqa: S608 - table names and placeholders only; values are bound
        params,
    )
    leaders = _users_with_roles((Role.SALES_LEADER,))
    pairs = [(alert_id, user) for alert_id, owner in rows for user in {owner, *leaders} if user]
    deliveries = _deliveries_create(alert_ids=[r[0] for r in rows], recipients=pairs, now=now)
    return {"breached": breached, "alerts": len(rows), "deliveries": deliveries}


def due_soon_share() -> float:
    """The organization's due-soon share, or the COMPLIANCE_DUE_SOON_SHARE default."""
    share = selectors.alert_settings().due_soon_share
    return share if share is not None else config.value("COMPLIANCE_DUE_SOON_SHARE")


@transaction.atomic
def due_soon_warn(*, now: datetime) -> dict[str, int]:
    """Warn the owner of each open clock that has at most the due-soon share of its window left.

    Business-hours clocks measure the window and what is left in business time (the
    version's calendar, through the working-time index); calendar clocks and follow-up
    cadences in real time. One INSERT ... SELECT per SLA version with open clocks.
    """
    share = due_soon_share()
    tz = selectors.organization_timezone(now=now)
    spans = _execute(
        f"""
        SELECT k.sla_version_id, min(k.started_at), max(k.due_at) FROM {metric_sql.CLOCK} k
        WHERE k.state = 'pending' AND k.due_at > %(now)s GROUP BY k.sla_version_id""",  # noqa: S608 - table names and placeholders only; values are bound
        {"now": now},
    )

    alerts: list[tuple[int, int]] = []
    versions = SlaVersion.objects.in_bulk([row[0] for row in spans])
    for version_id, first_start, last_due in spans:
        calendar = calendar_for_version(versions[version_id], mode=BUSINESS)
        work = working_index(calendar, min(first_start, now), max(last_due, now)).as_sql_params()
        worked = "compliance_worked_us(%(work_starts)s, %(work_ends)s, %(work_cum)s, {})"
        params = {
            "now": now,
            "share": share,
            "tz": tz,
            "version_id": version_id,
            "final": list(metric_sql.FINAL),
            **work,
        }
        alerts += _execute(
            f"""
            INSERT INTO {ALERT} (kind, clock_id, lead_id, commitment_id, period_kind, payload, created_at)
            SELECT 'due_soon', k.id, k.lead_id, k.commitment_id, '', {_CLOCK_PAYLOAD}, %(now)s
            FROM {metric_sql.CLOCK} k
            JOIN {metric_sql.LEAD} l ON l.id = k.lead_id
            JOIN {COMMITMENT} c ON c.id = k.commitment_id
            LEFT JOIN {USER} u ON u.id = l.owner_id
            WHERE k.sla_version_id = %(version_id)s AND k.state = 'pending'
              AND k.started_at <= %(now)s AND k.due_at > %(now)s AND l.owner_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {ALERT} x WHERE x.clock_id = k.id AND x.kind = 'due_soon')
              AND CASE WHEN k.kind = 'follow_up' OR c.params->>'clock' = 'calendar'
                    THEN EXTRACT(EPOCH FROM k.due_at - %(now)s)
                         <= %(share)s * EXTRACT(EPOCH FROM k.due_at - k.started_at)
                    ELSE ({worked.format("k.due_at")} - {worked.format("%(now)s")})::float8
                         <= %(share)s * ({worked.format("k.due_at")} - {worked.format("k.started_at")})::float8
                  END
              AND NOT ({_SATISFIED.format(until="%(now)s")})
            ON CONFLICT DO NOTHING
            RETURNING id, (payload->>'owner_id')::bigint""",  # noqa: S608 - table names and placeholders only; values are bound
            params,
        )
    deliveries = _deliveries_create(alert_ids=[a for a, _ in alerts], recipients=alerts, now=now)
    return {"alerts": len(alerts), "deliveries": deliveries}


# --- deliveries (the outbox rows) ---------------------------------------------------------


def _users_with_roles(roles: Iterable[str]) -> list[int]:
    return list(
        User.objects.filter(role__in=list(roles), is_active=True).values_list("pk", flat=True)
    )


def _deliveries_create(
    *, alert_ids: Sequence[int], recipients: Sequence[tuple[int, int]], now: datetime
) -> int:
    """Outbox rows for new alerts: in-app and email per recipient (minus their mutes), and one
    webhook row per alert when the organization's webhook takes its kind. Enqueues delivery."""
    if not alert_ids:
        return 0
    created = 0
    with connection.cursor() as cursor:
        if recipients:
            query = metric_sql.bind(
                f"""
                INSERT INTO {DELIVERY} (alert_id, channel, recipient_id, status, attempts,
                                        next_attempt_at, last_error, key, created_at)
                SELECT p.alert_id, ch.channel, p.recipient_id, 'pending', 0,
                       %(now)s, '', gen_random_uuid(), %(now)s
                FROM unnest(%(alert_ids)s::bigint[], %(recipient_ids)s::bigint[])
                     AS p(alert_id, recipient_id)
                JOIN {ALERT} a ON a.id = p.alert_id
                JOIN {USER} u ON u.id = p.recipient_id AND u.is_active
                CROSS JOIN unnest(%(channels)s::text[]) AS ch(channel)
                WHERE NOT EXISTS (
                  SELECT 1 FROM {MUTE} m
                  WHERE m.user_id = p.recipient_id AND m.kind = a.kind AND m.channel = ch.channel)
                ON CONFLICT DO NOTHING""",  # noqa: S608 - table names and placeholders only; values are bound
                {
                    "now": now,
                    "alert_ids": [a for a, _ in recipients],
                    "recipient_ids": [r for _, r in recipients],
                    "channels": [c.value for c in PERSONAL_CHANNELS],
                },
            )
            cursor.execute(query.sql, query.params)
            created += cursor.rowcount
        settings = selectors.alert_settings()
        if settings.webhook_is_on and settings.webhook_kinds:
            query = metric_sql.bind(
                f"""
                INSERT INTO {DELIVERY} (alert_id, channel, recipient_id, status, attempts,
                                        next_attempt_at, last_error, key, created_at)
                SELECT a.id, 'webhook', NULL, 'pending', 0, %(now)s, '', gen_random_uuid(), %(now)s
                FROM {ALERT} a WHERE a.id = ANY(%(alert_ids)s) AND a.kind = ANY(%(kinds)s)
                ON CONFLICT DO NOTHING""",  # noqa: S608 - table names and placeholders only; values are bound
                {"now": now, "alert_ids": list(alert_ids), "kinds": list(settings.webhook_kinds)},
            )
            cursor.execute(query.sql, query.params)
            created += cursor.rowcount
    if created:
        deliveries_enqueue()
    return created


def deliveries_enqueue() -> None:
    """Ask a worker to deliver what is owed, once the rows are committed.

    Never raises: with the broker down the rows simply wait for the minute sweep's
    ``deliveries_kick``. ``retry=False`` so an outage costs one refused connection,
    not Celery's publish retries inside the caller's request.
    """

    def send() -> None:
        try:
            # By name: the task module imports this one (tasks call services, not back).
            celery_app.send_task(ALERT_DELIVERIES_TASK, retry=False)
        except Exception:
            logger.warning("could not enqueue alert delivery; the next sweep will", exc_info=True)

    transaction.on_commit(send)


def deliveries_kick(*, now: datetime) -> int:
    """The redeliver pass: how many deliveries are owed now; enqueue the task when any are."""
    owed = AlertDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).count()
    if owed:
        deliveries_enqueue()
    return owed


# --- snapshots ------------------------------------------------------------------------------


def _owner_counts_json(
    counts: Mapping[int | None, tuple[int, int, int]] | None,
) -> str | None:
    if counts is None:
        return None
    ordered = sorted(counts.items(), key=lambda pair: (pair[0] is None, pair[0] or 0))
    return json.dumps([[owner, *numbers] for owner, numbers in ordered])


def _snapshot_rows(
    items: Sequence[selectors.CommitmentResult], *, frozen: bool, now: datetime
) -> list[tuple]:
    rows = []
    for item in items:
        r: MetricResult = item.result
        rows.append(
            (
                item.commitment.pk,
                item.kind.key,
                json.dumps(list(r.versions)),
                str(item.period.kind),
                item.period.first_day,
                item.period.start,
                item.period.end,
                item.as_of,
                r.value,
                r.numerator,
                r.denominator,
                r.target,
                r.yellow_threshold,
                r.effective_target,
                str(r.status),
                r.pending,
                r.median_hours,
                r.p90_hours,
                _owner_counts_json(None if frozen else item.owner_counts),
                frozen,
                now,
            )
        )
    return rows


_SNAPSHOT_COLUMNS = (
    "commitment_id, kind, versions, period_kind, period_start, starts_at, ends_at, as_of, "
    "value, numerator, "
    "denominator, target, yellow_threshold, effective_target, status, pending, median_hours, "
    "p90_hours, owner_counts, frozen, computed_at"
)
_OWNER_COUNTS_COLUMN = 18


def _snapshots_write(rows: list[tuple], *, overwrite_frozen: bool) -> int:
    """Upsert snapshots; a frozen one is never changed unless ``overwrite_frozen``."""
    if not rows:
        return 0
    updates = ", ".join(
        f"{column} = EXCLUDED.{column}"
        for column in (c.strip() for c in _SNAPSHOT_COLUMNS.split(","))
        if column not in {"kind", "period_kind", "period_start"}
    )
    guard = "" if overwrite_frozen else f"WHERE NOT {SNAPSHOT}.frozen"
    placeholders = ["%s"] * len(rows[0])
    placeholders[2] = "%s::jsonb"  # versions
    placeholders[_OWNER_COUNTS_COLUMN] = "%s::jsonb"
    values = ", ".join(["(" + ", ".join(placeholders) + ")"] * len(rows))
    sql = f"""
        INSERT INTO {SNAPSHOT} ({_SNAPSHOT_COLUMNS}) VALUES {values}
        ON CONFLICT (kind, period_kind, period_start) DO UPDATE SET {updates} {guard}"""  # noqa: S608 - table names and placeholders only; values are bound
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for row in rows for v in row])
        return cursor.rowcount


def _period_snapshots(
    period: Period, *, now: datetime, overwrite_frozen: bool, skip_frozen: bool = True
) -> int:
    """Compute and store the period's snapshot of every commitment kind in force during it."""
    closed = period.end <= now
    kinds = _kinds_to_snapshot(period, now=now, skip_frozen=skip_frozen and not overwrite_frozen)
    if not kinds:
        return 0
    # An open period's clock kinds also per current owner, from the same aggregate query
    # (the scorecard's per-rep figures); a closed period's would go stale as leads change hands.
    results = selectors.compliance_for_period(
        period=period,
        as_of=period.end if closed else now,
        with_outcomes=False,
        kinds=kinds,
        with_owner_counts=not closed,
    )
    return _snapshots_write(
        _snapshot_rows(results, frozen=closed, now=now), overwrite_frozen=overwrite_frozen
    )


def _open_periods_snapshots(periods: Sequence[Period], *, now: datetime) -> int:
    """_period_snapshots of the open periods containing ``now`` (this week, month and
    quarter), as of now with the clock kinds' per-owner counts: one aggregate statement for
    all of them, which reads the fact rows of their union (the quarter, with a week that
    began in the quarter before) once."""
    asked = [(p, _kinds_to_snapshot(p, now=now, skip_frozen=True)) for p in periods]
    asked = [(p, kinds) for p, kinds in asked if kinds]
    if not asked:
        return 0
    found = selectors.compliance_for_periods(periods=asked, as_of=now, with_owner_counts=True)
    results = [result for period_results in found for result in period_results]
    return _snapshots_write(_snapshot_rows(results, frozen=False, now=now), overwrite_frozen=False)


def _kinds_to_snapshot(
    period: Period, *, now: datetime, skip_frozen: bool
) -> list[kind_selectors.CommitmentKind]:
    """The commitment kinds in force during the period, less those whose snapshot of it is
    frozen when ``skip_frozen``."""
    kinds = kind_selectors.commitment_kinds(period=period, as_of=now)
    if skip_frozen:
        done = set(
            ComplianceSnapshot.objects.filter(
                kind__in=[k.key for k in kinds],
                period_kind=period.kind,
                period_start=period.first_day,
                frozen=True,
            ).values_list("kind", flat=True)
        )
        kinds = [k for k in kinds if k.key not in done]
    return kinds


@transaction.atomic
def snapshots_refresh(*, now: datetime) -> dict[str, int]:
    """Freeze the periods that have closed (as of their end) and refresh the open ones (as of now).

    Closed: the period just before the current week, month and quarter, and any
    older snapshot still unfrozen (the sweep was down when its period closed).
    """
    tz = selectors.organization_timezone(now=now)
    frozen = 0
    stale = set(
        ComplianceSnapshot.objects.filter(frozen=False, ends_at__lte=now)
        .values_list("period_kind", "period_start")
        .distinct()
    )
    current = [period_for(kind, now, tz) for kind in KINDS]
    for period in current:
        closed = {previous(period)}
        closed |= {
            period_starting(period.kind, start, tz) for k, start in stale if k == period.kind
        }
        for done in sorted(closed, key=lambda p: p.start):
            frozen += _period_snapshots(done, now=now, overwrite_frozen=False)
    refreshed = _open_periods_snapshots(current, now=now)
    due = now - timedelta(seconds=settings.WIN_RATES_REFRESH_SECONDS)
    if not WinRateSnapshot.objects.filter(as_of__gt=due, as_of__lte=now).exists():
        win_rates_refresh(now=now)
    return {"frozen": frozen, "refreshed": refreshed}


def win_rates_refresh(*, now: datetime) -> WinRateSnapshot:
    """Store the organization's pipeline-at-risk win rates as of ``now``, replacing the
    previous row (the scorecard reads the latest while fresh). Three queries."""
    rates = selectors.first_contact_win_rates(as_of=now)
    WinRateSnapshot.objects.all().delete()
    return WinRateSnapshot.objects.create(
        as_of=rates.as_of,
        since=rates.as_of - timedelta(days=selectors.WIN_RATE_DAYS),
        in_sla_won=rates.in_sla_won,
        in_sla_total=rates.in_sla_total,
        out_sla_won=rates.out_sla_won,
        out_sla_total=rates.out_sla_total,
        average_won_amount=rates.average_won_amount,
        computed_at=now,
    )


def snapshots_invalidate(*, moments: Sequence[datetime]) -> int:
    """Unfreeze the snapshots of every period containing one of ``moments`` (facts there moved:
    an MQL re-dated by a late, older fact); the next sweep recomputes them as of their end and
    freezes them again. (The hand-off pipeline, which re-dates, tells the dashboards' stored
    charts too.) One UPDATE; returns how many snapshots were unfrozen."""
    if not moments:
        return 0
    containing = Q(pk__in=[])
    for moment in set(moments):
        containing |= Q(starts_at__lte=moment, ends_at__gt=moment)
    return ComplianceSnapshot.objects.filter(containing, frozen=True).update(frozen=False)


def snapshots_recompute(
    *,
    first_day: date,
    last_day: date,
    now: datetime | None = None,
    include_frozen: bool = False,
) -> int:
    """Compute the snapshots of every week, month and quarter overlapping [first_day, last_day]
    that has started (idempotent). Closed periods are stored frozen, as of their end; frozen
    snapshots are left alone unless ``include_frozen`` (back-filled history). Returns rows written.
    """
    if last_day < first_day:
        raise ValueError("the last day is before the first day")
    now = now or timezone.now()
    tz = selectors.organization_timezone(now=now)
    written = 0
    for kind in KINDS:
        period = period_for(kind, first_day, tz)
        while period.first_day <= last_day and period.start <= now:
            with transaction.atomic():
                written += _period_snapshots(
                    period, now=now, overwrite_frozen=include_frozen, skip_frozen=not include_frozen
                )
            period = following(period)
    return written


# --- commitment alerts: turned red, escalation ------------------------------------------------


def _commitment_payload(
    commitment: Commitment, period: Period, result_values: dict, *, kind: str
) -> dict:
    return {
        "commitment_id": commitment.pk,
        "commitment_kind": kind,
        "commitment": commitment.label or commitment.get_metric_display(),
        "metric": commitment.metric,
        "owner_team": commitment.owner_team,
        "period_kind": str(period.kind),
        "period_start": period.first_day.isoformat(),
        "period_label": period.label,
        **result_values,
    }


def _commitment_alerts_insert(
    rows: list[dict], *, now: datetime
) -> list[tuple[int, int, int | None]]:
    """Insert commitment alerts; returns (id, commitment_id, escalation_rule_id) of the new ones."""
    if not rows:
        return []
    values = ", ".join(["(%s, NULL, NULL, %s, %s, %s, %s, %s::jsonb, %s)"] * len(rows))
    params: list[Any] = []
    for row in rows:
        params += [
            row["kind"],
            row["commitment_id"],
            row.get("rule_id"),
            row["period_kind"],
            row["period_start"],
            json.dumps(row["payload"]),
            now,
        ]
    sql = f"""
        INSERT INTO {ALERT} (kind, clock_id, lead_id, commitment_id, escalation_rule_id,
                             period_kind, period_start, payload, created_at)
        VALUES {values}
        ON CONFLICT DO NOTHING
        RETURNING id, commitment_id, escalation_rule_id"""  # noqa: S608 - table names and placeholders only; values are bound
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _already_alerted(rows: list[dict]) -> list[dict]:
    """The rows whose commitment kind has no alert of the same alert kind, period (and, for an
    escalation, the same rule: threshold, periods, role) yet under another version's
    commitment: a kind keeps one alert per period when a new version of the SLA takes
    effect inside it. One query."""
    if not rows:
        return rows
    found = set(
        Alert.objects.filter(
            kind__in={row["kind"] for row in rows},
            period_start__in={row["period_start"] for row in rows},
            payload__commitment_kind__in={row["payload"]["commitment_kind"] for row in rows},
        ).values_list(
            "kind",
            "period_kind",
            "period_start",
            "payload__commitment_kind",
            "payload__rule_terms",
        )
    )

    def key(row: dict) -> tuple:
        payload = row["payload"]
        return (
            row["kind"],
            row["period_kind"],
            row["period_start"],
            payload["commitment_kind"],
            payload.get("rule_terms"),
        )

    return [row for row in rows if key(row) not in found]


def _is_actionable_red(commitment: Commitment, snapshot: ComplianceSnapshot) -> bool:
    """Red, and for a pro-rated volume red by at least one whole MQL: at 00:05 on Monday
    the pro-rated yellow threshold is a fraction of an MQL and zero MQLs is "red"."""
    if snapshot.status != Status.RED:
        return False
    if commitment.metric != Metric.MQL_VOLUME or not snapshot.target:
        return True
    effective_yellow = (
        snapshot.yellow_threshold * (snapshot.effective_target or 0) / snapshot.target
    )
    return snapshot.numerator < int(effective_yellow)


@transaction.atomic
def commitments_red_alert(*, now: datetime) -> dict[str, int]:
    """Tell the owner team's leader(s) when a commitment kind is red in its current review
    period (once per kind and period: one that recovers and turns red again in the same
    period, or whose newest version changes inside it, is not announced twice)."""
    tz = selectors.organization_timezone(now=now)
    current = {kind: period_for(kind, now, tz) for kind in KINDS}
    snapshots = ComplianceSnapshot.objects.filter(frozen=False, status=Status.RED).select_related(
        "commitment"
    )
    rows = []
    for snapshot in snapshots:
        commitment = snapshot.commitment
        period = current.get(PeriodKind(snapshot.period_kind))
        if (
            period is None
            or snapshot.period_kind != commitment.review_period
            or snapshot.period_start != period.first_day
            or not _is_actionable_red(commitment, snapshot)
        ):
            continue
        rows.append(
            {
                "kind": AlertKind.COMMITMENT_RED,
                "commitment_id": commitment.pk,
                "period_kind": snapshot.period_kind,
                "period_start": snapshot.period_start,
                "payload": _commitment_payload(
                    commitment,
                    period,
                    {
                        "value": snapshot.value,
                        "target": snapshot.target,
                        "yellow_threshold": snapshot.yellow_threshold,
                        "versions": snapshot.versions,
                        "as_of": snapshot.as_of.isoformat(),
                        "tz": tz,
                    },
                    kind=snapshot.kind,
                ),
            }
        )
    created = _commitment_alerts_insert(_already_alerted(rows), now=now)
    teams = dict(
        Commitment.objects.filter(pk__in=[c for _, c, _ in created]).values_list("pk", "owner_team")
    )
    leaders = {team: _users_with_roles(roles) for team, roles in TEAM_LEADERS.items()}
    pairs = [(a, user) for a, c, _ in created for user in leaders.get(teams.get(c), [])]
    deliveries = _deliveries_create(alert_ids=[a for a, _, _ in created], recipients=pairs, now=now)
    return {"alerts": len(created), "deliveries": deliveries}


@transaction.atomic
def escalations_evaluate(*, now: datetime) -> dict[str, int]:
    """Escalation rules of the versions in force: "below X for K consecutive closed periods,
    notify <role>", over the frozen snapshots of the rule's commitment kind (one figure per
    closed period, whichever versions were in force), once per episode
    (metrics.escalation_episodes) — an episode already raised under an older version's rule
    is not raised again.

    The whole frozen history feeds the episode detection, so an episode's firing period is
    stable; it is sent when it is among the last COMPLIANCE_ESCALATION_LOOKBACK closed periods
    (so a back-fill of old history does not page the executive about last year). Older
    episodes are recorded as history, notifying nobody (escalation_history.py).
    """
    tz = selectors.organization_timezone(now=now)
    rules = list(
        EscalationRule.objects.filter(
            version__in=SlaVersion.objects.in_force_at(now)
        ).select_related("commitment")
    )
    if not rules:
        return {"alerts": 0, "deliveries": 0, "backfilled": 0}
    lookback = int(config.value("COMPLIANCE_ESCALATION_LOOKBACK"))
    backfilled: list[dict] = []
    keys = kind_keys(
        Commitment.objects.filter(version__in={r.version_id for r in rules}).only(
            "pk", "version_id", "position", "owner_team", "metric"
        )
    )
    history: dict[tuple[str, str], dict[date, float | None]] = {}
    for key, period_kind, start, value in ComplianceSnapshot.objects.filter(
        frozen=True, kind__in={keys[r.commitment_id] for r in rules}
    ).values_list("kind", "period_kind", "period_start", "value"):
        history.setdefault((key, period_kind), {})[start] = value
    rows = []
    for rule in rules:
        values_by_start = history.get((keys[rule.commitment_id], rule.period_kind), {})
        if not values_by_start:
            continue
        last_closed = previous(period_for(PeriodKind(rule.period_kind), now, tz))
        periods = [period_starting(PeriodKind(rule.period_kind), min(values_by_start), tz)]
        while periods[-1].start < last_closed.start:
            periods.append(following(periods[-1]))
        values = [values_by_start.get(p.first_day) for p in periods]
        for index in escalation_episodes(values, threshold=rule.threshold, periods=rule.periods):
            found_in_backfill = index < len(periods) - lookback
            period = periods[index]
            (backfilled if found_in_backfill else rows).append(
                {
                    "kind": AlertKind.ESCALATION,
                    "commitment_id": rule.commitment_id,
                    "rule_id": rule.pk,
                    "period_kind": rule.period_kind,
                    "period_start": period.first_day,
                    "payload": _commitment_payload(
                        rule.commitment,
                        period,
                        {
                            "value": values[index],
                            "target": rule.commitment.target,
                            "threshold": rule.threshold,
                            "periods": rule.periods,
                            "notify_role": rule.notify_role,
                            "values": values[max(0, index - rule.periods + 1) : index + 1],
                            "rule_terms": f"{rule.threshold:g}/{rule.periods}/{rule.notify_role}",
                            "tz": tz,
                        },
                        kind=keys[rule.commitment_id],
                    ),
                }
            )
    created = _commitment_alerts_insert(_already_alerted(rows), now=now)
    roles = {r.pk: r.notify_role for r in rules}
    recipients = {role: _users_with_roles((role,)) for role in set(roles.values())}
    pairs = [
        (a, user) for a, _, rule_id in created for user in recipients.get(roles.get(rule_id), [])
    ]
    deliveries = _deliveries_create(alert_ids=[a for a, _, _ in created], recipients=pairs, now=now)
    recorded = escalation_history_record(rows=_already_alerted(backfilled), now=now)
    return {"alerts": len(created), "deliveries": deliveries, "backfilled": recorded}


# --- people's notifications and preferences ---------------------------------------------------


def notification_mark_read(
    *, user, notification_id: int, now: datetime | None = None
) -> Notification:
    """Mark one of the user's notifications read (someone else's is a 404 for the caller)."""
    notification = Notification.objects.get(pk=notification_id, recipient=user)
    if notification.read_at is None:
        notification.read_at = now or timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user, now: datetime | None = None) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )


@transaction.atomic
def notification_mutes_set(*, user, muted: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Replace the user's mutes by ``muted`` (pairs of alert kind and personal channel)."""

    wanted = set()
    for kind, channel in muted:
        if kind not in AlertKind.values:
            raise DomainError(f"Unknown alert kind “{kind}”.", field="mutes")
        if channel not in {c.value for c in PERSONAL_CHANNELS}:
            raise DomainError(f"Unknown channel “{channel}”.", field="mutes")
        wanted.add((kind, channel))
    NotificationMute.objects.filter(user=user).delete()
    NotificationMute.objects.bulk_create(
        [NotificationMute(user=user, kind=k, channel=c) for k, c in sorted(wanted)]
    )
    return wanted


@transaction.atomic
def alert_settings_update(
    *,
    actor,
    due_soon_share: float | None,
    webhook_url: str,
    webhook_enabled: bool,
    webhook_kinds: Sequence[str],
    webhook_secret: str | None = None,
) -> AlertSettings:
    """Save the organization's alert settings; ``webhook_secret`` None keeps the current one."""

    if due_soon_share is not None and not 0 < due_soon_share < 1:
        raise DomainError("Enter a share between 1 % and 99 %.", field="due_soon_share")
    if webhook_url:
        # Checked on every save, not only when the URL changes: the address behind an
        # unchanged host name may have moved. The outbox checks again before each POST.
        problem = destinations.webhook_url_problem(
            webhook_url, allow_private=config.flag("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE")
        )
        if problem:
            raise DomainError(problem, field="webhook_url")
    unknown = set(webhook_kinds) - set(AlertKind.values)
    if unknown:
        raise DomainError(
            f"Unknown alert kinds: {', '.join(sorted(unknown))}.", field="webhook_kinds"
        )
    settings, _ = AlertSettings.objects.select_for_update().get_or_create(pk=1)
    if webhook_secret is not None:
        settings.webhook_secret = webhook_secret
    if webhook_enabled and not (webhook_url and settings.webhook_secret):
        raise DomainError(
            "A webhook needs a URL and a signing secret before it can be turned on.",
            field="webhook_enabled",
        )
    settings.due_soon_share = due_soon_share
    settings.webhook_url = webhook_url
    settings.webhook_enabled = webhook_enabled
    settings.webhook_kinds = sorted(set(webhook_kinds))
    settings.updated_by = actor if getattr(actor, "pk", None) else None
    settings.save()
    audit_record(actor=actor, action="alert_settings.changed", target="alert settings", due_soon_share=due_soon_share, webhook_url=webhook_url, webhook_enabled=webhook_enabled, webhook_kinds=settings.webhook_kinds)  # fmt: skip
    return settings


def alert_settings_ensure() -> AlertSettings:
    """The settings row with its defaults (provisioning of a new organization)."""
    settings, _ = AlertSettings.objects.get_or_create(pk=1)
    return settings


__all__ = [
    "Channel",
    "alert_settings_ensure",
    "alert_settings_update",
    "clocks_breach",
    "commitments_red_alert",
    "deliveries_enqueue",
    "deliveries_kick",
    "due_soon_share",
    "due_soon_warn",
    "escalations_evaluate",
    "notification_mark_read",
    "notification_mutes_set",
    "notifications_mark_all_read",
    "snapshots_recompute",
    "snapshots_refresh",
    "sweep_runs_prune",
    "tenant_sweep",
]
