"""Chart snapshots: stored chart data equals the live build, frozen once the period closed,
served while fresh, served-and-refreshed while stale, recomputed beyond; the worker's side."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.utils import timezone

from apps.compliance.periods import PeriodKind, period_for
from apps.dashboards import calculations, catalog, chart_points, snapshots
from apps.dashboards.models import ChartSnapshot
from apps.dashboards.scope import Scope, scope_from_params
from apps.leads.models import Lead
from tests.dashboards.factories import TZ, known_dataset, mql_lead


@pytest.fixture
def dataset(acme):
    return known_dataset()


def _closed_scope(data) -> Scope:
    return Scope(period=data.week, as_of=data.week.end, tz=TZ, choice="custom")


def _open_scope(now=None) -> Scope:
    return scope_from_params({"period": "this_week"}, now=now or timezone.now(), tz=TZ)


def _plain(chart) -> tuple:
    return (chart.title, chart.note, list(chart.points), json.loads(chart.figure.to_json()))


def test_every_point_type_survives_the_round_trip():
    points = [
        chart_points.HourBin(label="0–1 h", lower=0.0, upper=None, count=3, link="/x"),
        chart_points.CoveragePoint(label="Q4", amount=Decimal("120000.50"), revenue_target=None),
        chart_points.RevenuePoint(label="webinar", won_amount=Decimal("7.10"), won=1, lost=2),
        calculations.PipelineAtRisk(
            missed=4,
            in_sla_rate=0.25,
            out_sla_rate=None,
            average_won_amount=Decimal("50000.00"),
            amount=None,
            method="m",
        ),
    ]
    decoded = snapshots._decode(json.loads(json.dumps(snapshots._encode(points))))
    assert decoded == points
    assert isinstance(decoded[1].amount, Decimal) and decoded[1].ratio is None


def test_a_stored_chart_equals_the_live_build_for_every_chart(dataset):
    scope = _closed_scope(dataset)
    names = list(catalog.CHARTS)
    first = snapshots.charts_read(names, scope=scope)
    assert not any(item.stored for item in first)
    assert ChartSnapshot.objects.filter(frozen=True).count() == len(names)
    again = snapshots.charts_read(names, scope=scope)
    assert all(item.stored for item in again)
    for name, stored in zip(names, again, strict=True):
        live = catalog.chart_build(name, scope=scope)
        assert _plain(stored.data) == _plain(live), name
        assert stored.as_of == dataset.week.end


def test_a_closed_period_stays_as_it_was_frozen(dataset):
    scope = _closed_scope(dataset)
    before = snapshots.charts_read(["speed-to-lead"], scope=scope)[0].data.points
    # History imported later into the closed week does not move its stored chart ...
    mql_lead(version=dataset.version, mql_at=dataset.week.start + timedelta(days=2))
    after = snapshots.charts_read(["speed-to-lead"], scope=scope)[0]
    assert after.stored and after.data.points == before
    # ... until the snapshots of that week are forgotten (recompute_snapshots --include-frozen).
    assert snapshots.snapshots_forget(start=dataset.week.start, end=dataset.week.end) == 1
    recomputed = snapshots.charts_read(["speed-to-lead"], scope=scope)[0].data.points
    assert sum(b.denominator for b in recomputed) == sum(b.denominator for b in before) + 1


def test_an_open_period_is_served_fresh_then_refreshed_behind_then_recomputed(
    dataset, django_capture_on_commit_callbacks, settings
):
    settings.DASHBOARD_CHARTS_MAX_AGE_SECONDS = 300
    settings.DASHBOARD_CHARTS_STALE_SECONDS = 3600
    now = timezone.now()
    scope = _open_scope(now)

    def count():
        return sum(
            b.denominator
            for b in snapshots.charts_read(["speed-to-lead"], scope=scope, now=now)[0].data.points
        )

    base = count()
    mql_lead(version=dataset.version, mql_at=now - timedelta(minutes=1))
    # Fresh: the stored number, no refresh asked.
    with django_capture_on_commit_callbacks() as callbacks:
        assert count() == base
    assert callbacks == []
    row = ChartSnapshot.objects.get(chart="speed-to-lead", frozen=False)
    assert row.refresh_requested_at is None
    # Stale (10 minutes old): still served, and the worker is asked once to recompute it.
    ChartSnapshot.objects.filter(pk=row.pk).update(computed_at=now - timedelta(minutes=10))
    with django_capture_on_commit_callbacks() as callbacks:
        assert count() == base
        assert count() == base
    assert len(callbacks) == 1
    row.refresh_from_db()
    assert row.refresh_requested_at == now
    # The worker's side: the requested key is recomputed with the new lead.
    done = snapshots.charts_refresh(keys=[row.key], now=now + timedelta(seconds=5))
    assert done["computed"] == 1
    row.refresh_from_db()
    assert row.refresh_requested_at is None
    assert count() == base + 1
    # Older than the stale limit: computed in the request.
    mql_lead(version=dataset.version, mql_at=now - timedelta(minutes=2))
    ChartSnapshot.objects.filter(pk=row.pk).update(computed_at=now - timedelta(hours=2))
    assert count() == base + 2


def test_filters_and_options_are_stored_apart(dataset):
    scope = _closed_scope(dataset)
    webinar = Scope(period=dataset.week, as_of=dataset.week.end, tz=TZ, source="webinar")
    everyone = snapshots.charts_read(["mql-volume"], scope=scope)[0].data.points
    by_source = snapshots.charts_read(["mql-volume"], scope=webinar)[0].data.points
    monthly = snapshots.charts_read(["mql-volume"], scope=scope, options={"kind": "month"})[0]
    assert ChartSnapshot.objects.count() == 3
    assert by_source[-1].count < everyone[-1].count
    assert len(monthly.data.points) == 6 and len(everyone) == 8


def test_the_worker_refresh_keeps_the_default_scopes_warm_and_drops_old_open_rows(dataset):
    now = timezone.now()
    old = ChartSnapshot.objects.create(
        key="x" * 64,
        chart="funnel",
        period_kind="week",
        period_start=now - timedelta(days=30),
        period_end=now - timedelta(days=23),
        as_of=now - timedelta(days=23),
        computed_at=now - timedelta(days=3),
    )
    frozen_long_ago, frozen_recent = (
        ChartSnapshot.objects.create(
            key=key * 64,
            chart="funnel",
            period_kind="week",
            period_start=now - timedelta(days=200),
            period_end=now - timedelta(days=193),
            as_of=now - timedelta(days=193),
            computed_at=now - timedelta(days=age),
            frozen=True,
        )
        for key, age in (("y", 100), ("z", 10))
    )
    done = snapshots.charts_refresh(now=now)
    per_scope = len(catalog.CHARTS) + 1  # and the pipeline-at-risk number
    assert done == {"computed": 3 * per_scope, "skipped": 0, "deleted": 2}
    assert not ChartSnapshot.objects.filter(pk__in=[old.pk, frozen_long_ago.pk]).exists()
    assert ChartSnapshot.objects.filter(pk=frozen_recent.pk).exists()
    quarter = period_for(PeriodKind.QUARTER, now, TZ)
    stored = ChartSnapshot.objects.filter(period_kind="quarter", period_start=quarter.start)
    assert stored.count() == per_scope
    # The page's own reading of this quarter finds them: nothing is computed in the request.
    page_scope = scope_from_params({"period": "this_quarter"}, now=now, tz=TZ)
    read = snapshots.charts_read([*catalog.CHARTS, snapshots.AT_RISK], scope=page_scope, now=now)
    assert all(item.stored for item in read)


def test_the_charts_page_reads_snapshots_and_says_when_its_figures_are_from(
    dataset, client_as, django_assert_max_num_queries
):
    client = client_as("executive")
    first = client.get("/dashboards/charts/?period=last_week")
    assert first.status_code == 200
    assert "Figures as the period stood when it closed" in first.content.decode()
    # Every chart and the at-risk number now come from one read of the stored rows.
    # (The rest: session, user, organization, timezone, the filters' source list, nav.)
    with django_assert_max_num_queries(16):
        second = client.get("/dashboards/charts/?period=last_week")
    html = second.content.decode()
    for name in catalog.CHARTS:
        assert f'id="chart-{name}"' in html
    # Leads edited after the week closed do not change its frozen figures.
    Lead.objects.update(source="webinar")
    third = client.get("/dashboards/charts/?period=last_week").content.decode()
    assert re.findall(r'data-spec="([^"]*)"', third) == re.findall(r'data-spec="([^"]*)"', html)
    this_week = client.get("/dashboards/charts/?period=this_week").content.decode()
    assert "Figures as of" in this_week and "refreshed every few minutes" in this_week


def test_recompute_snapshots_with_include_frozen_forgets_the_stored_charts(dataset):
    from django.core.management import call_command

    scope = _closed_scope(dataset)
    snapshots.charts_read(["funnel", "rejections"], scope=scope)
    day = dataset.week.first_day.isoformat()
    call_command("recompute_snapshots", "--from", day, "--to", day, "--schema", "acme")
    assert ChartSnapshot.objects.count() == 2  # without --include-frozen they stay
    out = StringIO()
    call_command(
        "recompute_snapshots",
        "--from",
        day,
        "--to",
        day,
        "--schema",
        "acme",
        "--include-frozen",
        stdout=out,
    )
    assert ChartSnapshot.objects.count() == 0
    assert "2 stored chart(s) forgotten" in out.getvalue()
