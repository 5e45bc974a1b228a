"""Chart snapshots: the charts page and the chart API read stored chart data, not live SQL.

A chart over a quarter of a large organization aggregates its whole cohort (a hundred
thousand MQL events at a million leads): one to several seconds per chart. The numbers
of a closed period never change once it has closed (the compliance engine freezes them
the same way), and the numbers of the open period move by a few leads a minute. So:

- a closed period's chart is computed once, as of the period's end, and kept (frozen);
- an open period's chart is served while younger than ``DASHBOARD_CHARTS_MAX_AGE_SECONDS``;
  an older one (up to ``DASHBOARD_CHARTS_STALE_SECONDS``) is served while a worker
  recomputes it; anything older, or missing, is computed in the request and stored;
- every ``DASHBOARD_CHARTS_REFRESH_SECONDS`` the worker recomputes the default scopes
  (this week, month and quarter, unfiltered) of every organization, so the executive's
  first view of the day reads rows.

A snapshot keeps the points, the note and the plotly figure exactly as the builders made
them, and its drill-down links carry the snapshot's ``as_of``: a list opened from a
stored chart shows the leads the number counted. The page says when its numbers are from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.dashboards import calculations, catalog, chart_points, selectors
from apps.dashboards.models import ChartSnapshot
from apps.dashboards.scope import Scope, scope_from_params
from config.celery_app import app as celery_app

# Queued by name when a reader finds a chart stale (apps/dashboards/tasks.py registers it).
CHARTS_REFRESH_TASK = "apps.dashboards.tasks.charts_refresh_task"

__all__ = [
    "AT_RISK",
    "CHARTS_REFRESH_TASK",
    "DEFAULT_CHOICES",
    "StoredFigure",
    "at_risk_read",
    "chart_read",
    "charts_read",
    "charts_refresh",
    "history_changed_forget",
    "snapshots_forget",
]

# The pseudo-chart name of the "pipeline at risk" number on the charts page.
AT_RISK = "at-risk"
# Scopes the worker keeps warm: the charts page opens on this quarter.
DEFAULT_CHOICES = ("this_quarter", "this_month", "this_week")
# A refresh asked for longer ago than this without result is asked again (a lost task).
_REFRESH_RETRY = timedelta(minutes=10)
# Open-period snapshots not refreshed for this long are deleted ...
_OPEN_KEPT = timedelta(days=2)
# ... and frozen ones after this long, so custom periods and filters viewed once do not pile
# up; one viewed again is recomputed as of its period's end.
_FROZEN_KEPT = timedelta(days=90)

_POINT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        chart_points.HourBin,
        chart_points.TrendPoint,
        chart_points.VolumePoint,
        chart_points.RateBar,
        chart_points.CountBar,
        chart_points.FunnelStage,
        chart_points.ReasonBar,
        chart_points.RepBar,
        chart_points.CoveragePoint,
        chart_points.RevenuePoint,
        calculations.PipelineAtRisk,
    )
}


class StoredFigure:
    """A plotly figure as stored: serves its JSON without rebuilding the Figure object."""

    def __init__(self, text: str) -> None:
        self._text = text

    def to_json(self) -> str:
        return self._text


@dataclass(frozen=True)
class StoredChart:
    data: selectors.ChartData
    as_of: datetime
    computed_at: datetime
    stored: bool  # read from a snapshot rather than computed in this request


# --- encoding ---------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if type(value).__name__ not in _POINT_TYPES:
            raise TypeError(f"cannot store a {type(value).__name__}")
        return {
            "$type": type(value).__name__,
            "fields": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime | date):
        raise TypeError("chart points hold no dates")
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$decimal" in value:
            return Decimal(value["$decimal"])
        if "$type" in value:
            cls = _POINT_TYPES[value["$type"]]
            return cls(**{name: _decode(item) for name, item in value["fields"].items()})
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


# --- keys and freshness ----------------------------------------------------------------


def _scope_record(scope: Scope, options: Mapping[str, Any]) -> dict[str, Any]:
    """What rebuilds the scope in a worker: the period as a custom one, filters, options."""
    return {
        "kind": str(scope.period.kind),
        "date": scope.period.first_day.isoformat(),
        "team": scope.team,
        "source": scope.source,
        "owner_id": scope.owner_id,
        "options": {k: v for k, v in sorted(options.items()) if v not in (None, "")},
    }


def _key(chart: str, record: Mapping[str, Any]) -> str:
    text = json.dumps({"chart": chart, **record}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(getattr(settings, name, default)))


def _max_age() -> timedelta:
    return _seconds("DASHBOARD_CHARTS_MAX_AGE_SECONDS", 300)


def _stale_limit() -> timedelta:
    return _seconds("DASHBOARD_CHARTS_STALE_SECONDS", 3600)


def _scope_rebuilt(record: Mapping[str, Any], *, now: datetime) -> Scope:
    return scope_from_params(
        {
            "period": "custom",
            "kind": record["kind"],
            "date": record["date"],
            "team": record.get("team") or "",
            "source": record.get("source") or "",
        },
        now=now,
        tz=selectors.organization_timezone(),
        owner_id=record.get("owner_id"),
    )


# --- computing and storing ---------------------------------------------------------------


def _compute(chart: str, scope: Scope, options: Mapping[str, Any]) -> selectors.ChartData:
    if chart == AT_RISK:
        # An open period organization-wide: from the sweep's snapshot and stored win rates,
        # as the scorecard shows it (computed live otherwise).
        found = selectors.pipeline_at_risk(scope, latest=True)
        return selectors.ChartData(
            name=AT_RISK, title="Pipeline at risk", points=[found], figure=StoredFigure("{}")
        )
    return catalog.CHARTS[chart].build(scope, **options)


def _computed(
    chart: str, scope: Scope, options: Mapping[str, Any], *, now: datetime
) -> tuple[ChartSnapshot, selectors.ChartData]:
    """The chart computed live, and its (unsaved) snapshot row."""
    started = time.perf_counter()
    data = _compute(chart, scope, options)
    elapsed = int((time.perf_counter() - started) * 1000)
    record = _scope_record(scope, options)
    row = ChartSnapshot(
        key=_key(chart, record),
        chart=chart,
        period_kind=str(scope.period.kind),
        period_start=scope.period.start,
        period_end=scope.period.end,
        scope=record,
        as_of=scope.as_of,
        computed_at=now,
        compute_ms=elapsed,
        frozen=not scope.is_open,
        refresh_requested_at=None,
        payload={
            "title": data.title,
            "note": data.note,
            "points": _encode(list(data.points)),
            "figure": data.figure.to_json(),
        },
    )
    return row, data


_UPDATED_FIELDS = [
    "chart",
    "period_kind",
    "period_start",
    "period_end",
    "scope",
    "as_of",
    "computed_at",
    "compute_ms",
    "frozen",
    "refresh_requested_at",
    "payload",
]


def _save(rows: Sequence[ChartSnapshot]) -> None:
    """One upsert for all rows (two requests computing the same chart: the last one wins)."""
    if rows:
        ChartSnapshot.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["key"], update_fields=_UPDATED_FIELDS
        )


def _from_row(row: ChartSnapshot) -> selectors.ChartData:
    payload = row.payload
    return selectors.ChartData(
        name=row.chart,
        title=payload["title"],
        points=_decode(payload["points"]),
        figure=StoredFigure(payload["figure"]),
        note=payload.get("note", ""),
    )


def _usable(row: ChartSnapshot, scope: Scope, now: datetime) -> bool:
    if not scope.is_open:
        return row.frozen
    return not row.frozen and now - row.computed_at <= _stale_limit()


def _refresh_request(rows: Sequence[ChartSnapshot], now: datetime) -> None:
    """Ask the worker to recompute stale rows, once: the conditional update is the lock."""
    if not rows:
        return
    claimed = list(
        ChartSnapshot.objects.filter(pk__in=[row.pk for row in rows])
        .filter(
            Q(refresh_requested_at__isnull=True) | Q(refresh_requested_at__lt=now - _REFRESH_RETRY)
        )
        .values_list("key", flat=True)
    )
    if not claimed:
        return
    ChartSnapshot.objects.filter(key__in=claimed).update(refresh_requested_at=now)
    # By name: the task module imports this one (tasks call services, not back).
    transaction.on_commit(
        lambda: celery_app.send_task(CHARTS_REFRESH_TASK, kwargs={"keys": claimed})
    )


def charts_read(
    names: Sequence[str],
    *,
    scope: Scope,
    options: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> list[StoredChart]:
    """The named charts for the scope, from their snapshots where usable (one query for all),
    computed and stored otherwise. Stale open-period rows are served and refreshed behind."""
    now = now or timezone.now()
    options = dict(options or {})
    keys = {name: _key(name, _scope_record(scope, options)) for name in names}
    rows = {row.key: row for row in ChartSnapshot.objects.filter(key__in=keys.values())}
    found: list[StoredChart] = []
    stale: list[ChartSnapshot] = []
    fresh: list[ChartSnapshot] = []
    for name in names:
        row = rows.get(keys[name])
        if row is not None and _usable(row, scope, now):
            if scope.is_open and now - row.computed_at > _max_age():
                stale.append(row)
            found.append(StoredChart(_from_row(row), row.as_of, row.computed_at, stored=True))
            continue
        row, data = _computed(name, scope, options, now=now)
        fresh.append(row)
        found.append(StoredChart(data, row.as_of, row.computed_at, stored=False))
    _save(fresh)
    _refresh_request(stale, now)
    return found


def chart_read(
    name: str,
    *,
    scope: Scope,
    role: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> StoredChart:
    """One chart by name for the API; DomainError (field "chart") for an unknown or withheld one."""
    catalog.chart_spec(name, role=role)
    return charts_read([name], scope=scope, options=options)[0]


def at_risk_read(scope: Scope) -> calculations.PipelineAtRisk:
    """The charts page's "pipeline at risk" number, stored like a chart."""
    return charts_read([AT_RISK], scope=scope)[0].data.points[0]


# --- the worker's side ---------------------------------------------------------------------


def charts_refresh(
    *, keys: Sequence[str] | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Recompute the snapshots named by ``keys`` (stale ones a reader asked for), or, without
    keys, every chart of the default scopes; then drop rows kept long enough (_OPEN_KEPT,
    _FROZEN_KEPT).
    Returns counts: {"computed": n, "skipped": n, "deleted": n}."""
    now = now or timezone.now()
    computed = skipped = 0
    if keys:
        for row in ChartSnapshot.objects.filter(key__in=list(keys)):
            if row.frozen or (
                row.refresh_requested_at is None and now - row.computed_at <= _max_age()
            ):
                skipped += 1  # refreshed meanwhile (by the beat or a reader)
                continue
            record = row.scope
            scope = _scope_rebuilt(record, now=now)
            _save([_computed(row.chart, scope, record["options"], now=now)[0]])
            computed += 1
    else:
        tz = selectors.organization_timezone()
        for choice in DEFAULT_CHOICES:
            scope = scope_from_params({"period": choice}, now=now, tz=tz)
            # Saved chart by chart: a reader gets each one as soon as it is ready.
            for name in [*catalog.CHARTS, AT_RISK]:
                _save([_computed(name, scope, {}, now=now)[0]])
                computed += 1
    deleted, _ = ChartSnapshot.objects.filter(
        Q(frozen=False, computed_at__lt=now - _OPEN_KEPT)
        | Q(frozen=True, computed_at__lt=now - _FROZEN_KEPT)
    ).delete()
    return {"computed": computed, "skipped": skipped, "deleted": deleted}


def snapshots_forget(*, start: datetime | None = None, end: datetime | None = None) -> int:
    """Delete stored charts whose period overlaps [start, end) (all of them without bounds),
    after history was imported into periods already frozen; the next read recomputes them.
    Returns how many."""
    rows = ChartSnapshot.objects.all()
    if start is not None:
        rows = rows.filter(period_end__gt=start)
    if end is not None:
        rows = rows.filter(period_start__lt=end)
    deleted, _ = rows.delete()
    return deleted


def history_changed_forget(*, moments: Sequence[datetime]) -> int:
    """History moved (an MQL re-dated by the hand-off pipeline): drop the stored charts of every
    period containing one of the moments (one DELETE); they are recomputed on their next read."""
    if not moments:
        return 0
    containing = Q(pk__in=[])
    for moment in moments:
        containing |= Q(period_start__lte=moment, period_end__gt=moment)
    deleted, _ = ChartSnapshot.objects.filter(containing).delete()
    return deleted
