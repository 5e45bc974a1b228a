"""The scorecard of the open period reads the sweep's latest snapshots (tiles, sparklines'
open point, per-rep figures, pipeline-at-risk win rates) while they are fresh: the same
numbers as the live computation at the snapshot's moment, a number of queries that does
not grow with reps or leads, and live numbers for a rep, a source or an earlier moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import User
from apps.compliance import services as compliance_services
from apps.compliance.models import MqlEventFact, WinRateSnapshot
from apps.compliance.periods import Period, PeriodKind, period_for
from apps.dashboards import selectors
from apps.dashboards.scope import Scope
from tests.dashboards.factories import TZ, mql_lead, signed_version, user

FACT = MqlEventFact._meta.db_table


@dataclass
class OpenWeek:
    now: datetime
    week: Period
    version: object
    reps: list[User]


def _add_mqls(data: OpenWeek, *, count: int, reps: list[User], offset: int = 0) -> None:
    """``count`` MQLs spread over the open week up to ``now`` (a mix of owners, contacted in
    time, late, never, converted), whatever time of the week the test runs at."""
    span = data.now - data.week.start
    for i in range(count):
        n = i + offset
        mql_at = data.week.start + span * ((i + 1) / (count + 1))
        touch = mql_at + timedelta(minutes=(7, 40, 200, 500)[n % 4]) if n % 5 else None
        sql_at = mql_at + timedelta(minutes=90) if n % 4 == 0 else None
        mql_lead(
            version=data.version,
            mql_at=mql_at,
            owner=reps[n % len(reps)] if n % 6 else None,
            source=("webinar", "paid_search", "events")[n % 3],
            first_touch=touch if touch and touch <= data.now else None,
            sql_at=sql_at if sql_at and sql_at <= data.now else None,
        )


def _won_and_lost_history(data: OpenWeek) -> None:
    """Deals of the last 12 months behind the win rates: on-time ones won more often."""
    for j in range(8):
        mql_at = data.now - timedelta(days=20 + 40 * j, hours=3)
        on_time = j % 3 != 2
        mql_lead(
            version=data.version,
            mql_at=mql_at,
            owner=data.reps[j % len(data.reps)],
            source=("webinar", "events")[j % 2],
            first_touch=mql_at + (timedelta(minutes=15) if on_time else timedelta(days=3)),
            sql_at=mql_at + timedelta(days=4),
            stage="won" if on_time and j != 1 else "lost",
            amount=Decimal("12345.67") + Decimal(j * 1001),
            opportunity_at=mql_at + timedelta(days=5),
            closed_at=mql_at + timedelta(days=15),
        )


def open_week(*, mqls: int = 14, reps: int = 2) -> OpenWeek:
    now = timezone.now()
    data = OpenWeek(
        now=now,
        week=period_for(PeriodKind.WEEK, now, TZ),
        version=signed_version(effective_at=now - timedelta(days=800)),
        reps=[user("rep", f"Rep {i}") for i in range(reps)],
    )
    _add_mqls(data, count=mqls, reps=data.reps)
    _won_and_lost_history(data)
    return data


def _scope(data: OpenWeek, **kwargs) -> Scope:
    as_of = kwargs.pop("as_of", data.now)
    return Scope(period=data.week, as_of=as_of, tz=TZ, choice="this_week", **kwargs)


def _sweep(at: datetime) -> None:
    compliance_services.snapshots_refresh(now=at)


def _fact_reads(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if FACT in q["sql"]]


@pytest.fixture
def data(acme):
    # The organization is shared with the live-server journeys, whose real sweeps commit a
    # row of win rates as of the wall clock: a sweep within WIN_RATES_REFRESH_SECONDS of it
    # would keep that row instead of computing this test's.
    WinRateSnapshot.objects.all().delete()
    return open_week()


def test_the_stored_open_period_equals_the_live_computation_at_the_sweeps_moment(data):
    _sweep(data.now)
    scope = _scope(data)
    with CaptureQueriesContext(connection) as queries:
        tiles_only = selectors.scorecard(
            scope=scope, role="executive", latest=True, with_history=False
        )
        fast_reps = selectors.rep_compliance(scope, results=tiles_only.results)
        fast_risk = selectors.pipeline_at_risk(scope, results=tiles_only.results, latest=True)
    # Nothing of the open period was computed from the MQL facts in the request.
    assert _fact_reads(queries) == []
    fast = selectors.scorecard(scope=scope, role="executive", latest=True)
    live = selectors.scorecard(scope=scope, role="executive")
    assert {item.source for item in fast.results} == {"snapshot"}
    assert {item.source for item in live.results} == {"live"}
    assert fast.as_of == data.now
    # Every tile: value, status, counts, drill-down links (the snapshot's as_of is the
    # scope's), sparkline and its text.
    assert len(fast.tiles) == 6
    assert fast.tiles == live.tiles
    live_reps = selectors.rep_compliance(scope, results=live.results)
    assert fast_reps == live_reps
    assert {bar.rep for bar in fast_reps} >= {"Rep 0", "Rep 1", "Unassigned"}
    assert sum(b.met + b.missed + b.pending for b in fast_reps if b.metric.startswith("First")) == (
        next(t for t in fast.tiles if t.metric == "first_contact_time").denominator
        + next(t for t in fast.tiles if t.metric == "first_contact_time").pending
    )
    live_risk = selectors.pipeline_at_risk(scope, results=live.results)
    assert fast_risk == live_risk
    assert fast_risk.amount is not None and fast_risk.in_sla_rate > fast_risk.out_sla_rate
    # The charts page's per-rep chart and pipeline at risk read the same stored figures.
    with CaptureQueriesContext(connection) as queries:
        chart_reps = selectors.rep_compliance(scope, latest=True)
        chart_risk = selectors.pipeline_at_risk(scope, latest=True)
    assert _fact_reads(queries) == []
    assert (chart_reps, chart_risk) == (live_reps, live_risk)


def test_the_sweep_moment_is_what_the_page_shows_until_the_next_sweep(data):
    _sweep(data.now)
    _add_mqls(data, count=5, reps=data.reps, offset=100)
    scope = _scope(data)
    fast = selectors.scorecard(scope=scope, role="executive", latest=True, with_history=False)
    live = selectors.scorecard(scope=scope, role="executive", with_history=False)
    volume = {t.metric: t for t in fast.tiles}["mql_volume"]
    assert volume.value == "14"
    assert {t.metric: t for t in live.tiles}["mql_volume"].value == "19"
    _sweep(timezone.now())
    again = selectors.scorecard(
        scope=_scope(data, as_of=timezone.now()), role="executive", latest=True, with_history=False
    )
    assert {t.metric: t for t in again.tiles}["mql_volume"].value == "19"


def test_a_snapshot_older_than_the_max_age_is_not_served(data, settings):
    settings.DASHBOARD_SCORECARD_MAX_AGE_SECONDS = 60
    settings.WIN_RATES_REFRESH_SECONDS = 60  # the win rates' own allowance: stale as well
    old = max(data.week.start, data.now - timedelta(minutes=5))
    _sweep(old)
    scope = _scope(data)
    fast = selectors.scorecard(scope=scope, role="executive", latest=True)
    assert {item.source for item in fast.results} == {"live"}
    assert fast.tiles == selectors.scorecard(scope=scope, role="executive").tiles
    assert WinRateSnapshot.objects.get().as_of == old
    with CaptureQueriesContext(connection) as queries:
        risk = selectors.pipeline_at_risk(scope, results=fast.results, latest=True)
    assert risk == selectors.pipeline_at_risk(scope, results=fast.results)
    assert len(queries) == 3  # the stale row, then the two live queries


@pytest.mark.parametrize("kind", ["source", "rep", "as_of"])
def test_a_source_a_rep_or_an_earlier_moment_is_computed_live(data, kind):
    _sweep(data.now)
    if kind == "source":
        scope = _scope(data, source="webinar")
    elif kind == "rep":
        scope = _scope(data, owner_id=data.reps[0].pk)
    else:
        scope = _scope(data, as_of=data.week.start + (data.now - data.week.start) / 2)
    fast = selectors.scorecard(scope=scope, role="executive", latest=True)
    assert {item.source for item in fast.results} == {"live"}
    assert {item.as_of for item in fast.results if item.kind.metric != "pipeline_coverage"} == {
        scope.as_of
    }
    live = selectors.scorecard(scope=scope, role="executive")
    assert fast.tiles == live.tiles
    organization = selectors.scorecard(scope=_scope(data), role="executive", latest=True)
    if kind != "as_of":
        # A filter restricts the counts: fewer than the organization's.
        first = {t.metric: t for t in fast.tiles}["first_contact_time"]
        whole = {t.metric: t for t in organization.tiles}["first_contact_time"]
        assert first.denominator + first.pending < whole.denominator + whole.pending
    reps = selectors.rep_compliance(scope, results=fast.results)
    assert reps == selectors.rep_compliance(scope, results=live.results)
    # The charts page's own call: per-owner counts from the figures' statement, the same bars.
    assert selectors.rep_compliance(scope) == reps
    if kind == "rep":
        assert {bar.rep for bar in reps} == {"Rep 0"}
    risk = selectors.pipeline_at_risk(scope, results=fast.results, latest=True)
    assert risk == selectors.pipeline_at_risk(scope, results=live.results)


def _page_queries(client) -> tuple[int, list[str], str]:
    client.get("/dashboards/")  # stores the sources chart on a first view
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/dashboards/")
    assert response.status_code == 200
    return len(queries), _fact_reads(queries), response.content.decode()


def test_the_scorecard_page_runs_a_bounded_number_of_queries_whatever_the_reps_and_leads(
    data, client_as
):
    # The closed periods of the sparklines frozen, as the sweep leaves them.
    compliance_services.snapshots_recompute(
        first_day=(data.now - timedelta(days=800)).date(), last_day=data.now.date(), now=data.now
    )
    _sweep(timezone.now())
    client = client_as("executive")
    small, small_fact_reads, html = _page_queries(client)
    assert small_fact_reads == []
    assert "Rep 0" in html and "Pipeline at risk" in html
    more_reps = [user("rep", f"Rep {i}") for i in range(2, 12)]
    _add_mqls(data, count=80, reps=more_reps, offset=200)
    _sweep(timezone.now())
    large, large_fact_reads, html = _page_queries(client)
    assert large_fact_reads == []
    assert "Rep 11" in html
    assert large == small
    assert small <= 40


def test_the_source_filter_lists_the_first_100_sources_in_use_by_index_probes(acme):
    from apps.leads.models import Lead

    names = ["webinar", "Events", "", "ads", "webinar", "ads"] + [f"s{i:03d}" for i in range(120)]
    Lead.objects.bulk_create(
        Lead(external_id=f"src-{i}", email=f"src{i}@prospect.test", source=name)
        for i, name in enumerate(names)
    )
    expected = list(
        Lead.objects.exclude(source="")
        .order_by("source")
        .values_list("source", flat=True)
        .distinct()[:100]
    )
    with CaptureQueriesContext(connection) as queries:
        found = selectors.source_list()
    assert found == expected
    assert len(found) == 100 and "" not in found and len(set(found)) == 100
    assert len(queries) == 1
