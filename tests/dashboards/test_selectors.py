"""Selectors on a known dataset: tiles, drill-downs that match every number, bounded queries."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.compliance import kind_selectors
from apps.compliance import selectors as compliance_selectors
from apps.compliance.facts import facts_refresh
from apps.compliance.metrics import RESPONSE_BUCKETS, Outcome, response_bucket
from apps.compliance.models import MqlEventFact
from apps.dashboards import catalog, selectors
from apps.dashboards.scope import Scope
from apps.leads.models import Activity, Lead, StageChange
from apps.mql.models import MqlEvent
from tests.dashboards.factories import TZ, known_dataset, last_week, mql_lead, signed_version


@pytest.fixture
def dataset(acme):
    return known_dataset()


def _scope(data, **kwargs) -> Scope:
    return Scope(period=data.week, as_of=data.week.end, tz=TZ, choice="custom", **kwargs)


def _drill(link: str, *, owner_id=None):
    params = dict(parse_qsl(urlsplit(link).query))
    _slice, _found, leads = selectors.drilldown(
        params, owner_id=owner_id, tz=TZ, now=timezone.now()
    )
    return leads


def _tiles(card) -> dict:
    return {tile.metric: tile for tile in card.tiles}


def test_scorecard_tiles_state_value_status_and_counts(dataset):
    card = selectors.scorecard(scope=_scope(dataset), role="executive")
    tiles = _tiles(card)
    first = tiles["first_contact_time"]
    assert (first.value, first.status, first.status_label, first.icon) == (
        "60%",
        "red",
        "Off target",
        "✖",
    )
    assert first.counts == "6 of 10 contacted within 4 business hours"
    assert tiles["mql_to_sql_rate"].status == "green"
    assert tiles["rejection_reason_coverage"].counts == "2 of 3 rejections carry a reason code"
    assert tiles["rejection_reason_coverage"].status == "yellow"
    assert tiles["mql_volume"].value == "10"
    assert tiles["pipeline_coverage"].value == "1.2x"
    # Executive order: marketing, sales, shared; each tile has an 8-period sparkline.
    assert [g.team for g in card.groups] == ["marketing", "sales", "shared"]
    assert first.sparkline and len(first.trend) == 8


def test_leaders_see_their_own_team_first_and_team_filter(dataset):
    sales = selectors.scorecard(scope=_scope(dataset), role="sales_leader", with_history=False)
    assert sales.groups[0].team == "sales"
    marketing = selectors.scorecard(
        scope=_scope(dataset), role="marketing_leader", with_history=False
    )
    assert marketing.groups[0].team == "marketing"
    only_sales = selectors.scorecard(scope=_scope(dataset, team="sales"), with_history=False)
    assert {t.team for t in only_sales.tiles} == {"sales"}


def test_drilldown_lists_match_every_tile(dataset):
    card = selectors.scorecard(scope=_scope(dataset), role="executive", with_history=False)
    for tile in card.tiles:
        if tile.has_outcomes:
            assert _drill(tile.links["met"]).count() == tile.numerator, tile.title
            assert _drill(tile.links["missed"]).count() == tile.denominator - tile.numerator
            assert _drill(tile.links["pending"]).count() == tile.pending
        elif tile.metric == "mql_volume":
            assert _drill(tile.links["all"]).count() == tile.numerator == 10


def test_rep_tiles_and_drilldowns_cover_their_own_leads_only(dataset):
    scope = _scope(dataset, owner_id=dataset.rep_b.pk)
    card = selectors.scorecard(scope=scope, role="rep", with_history=False)
    first = _tiles(card)["first_contact_time"]
    assert first.counts == "2 of 5 contacted within 4 business hours"
    leads = _drill(first.links["all"], owner_id=dataset.rep_b.pk)
    assert leads.count() == 5
    assert set(leads.values_list("owner_id", flat=True)) == {dataset.rep_b.pk}
    # A rep cannot widen the list by editing the link: the owner is forced.
    everyone = first.links["all"].replace(f"&owner={dataset.rep_b.pk}", "")
    assert _drill(everyone, owner_id=dataset.rep_b.pk).count() == 5


def test_source_filter_recomputes_rates_from_the_engines_outcomes(dataset):
    card = selectors.scorecard(scope=_scope(dataset, source="paid_search"), with_history=False)
    tiles = _tiles(card)
    # paid_search: 4 MQLs — contacted in 3 h (met), 1 h (met), 1 d 6 h (late), never.
    assert tiles["first_contact_time"].counts == "2 of 4 contacted within 4 business hours"
    assert _drill(tiles["first_contact_time"].links["met"]).count() == 2
    assert tiles["mql_volume"].value == "4" and tiles["mql_volume"].status == "grey"


def _chart_points(scope):
    return {spec.name: spec.build(scope).points for spec in catalog.CHARTS.values()}


def test_every_chart_element_drills_down_to_the_leads_it_counts(dataset):
    scope = _scope(dataset)
    points = _chart_points(scope)
    for point in points["mql-volume"]:
        assert _drill(point.link).count() == point.count
    for name in ("mql-to-sql-weekly", "mql-to-sql-source", "mql-to-sql-campaign"):
        for bar in points[name]:
            assert _drill(bar.link).count() == bar.numerator, name
    for bar in points["speed-to-lead"]:
        assert _drill(bar.link).count() == bar.denominator
    for stage in points["funnel"]:
        assert _drill(stage.link).count() == stage.count
    for bar in points["rejections"]:
        assert _drill(bar.link).count() == bar.count
    for item in points["first-contact"]:
        assert _drill(item.link).count() == item.count
    for bar in points["reps"]:
        if bar.link:
            assert _drill(bar.link).count() == bar.missed
    for point in points["coverage"]:
        total = sum((lead.amount for lead in _drill(point.link)), Decimal(0))
        assert total == point.amount
    assert sum(p.count for p in points["rejections"]) == 3
    assert [b.denominator for b in points["speed-to-lead"]] == [1, 2, 3, 0, 3, 1]


def test_sql_response_buckets_agree_with_metrics_response_bucket(acme):
    data = known_dataset()
    base = data.week.start + timedelta(days=4, hours=9)
    # One lead at each boundary: 299 s, 300 s, 3599 s, 3600 s, 4 h, 24 h.
    for seconds in (299, 300, 3599, 3600, 14400, 86400):
        mql_lead(version=data.version, mql_at=base, first_touch=base + timedelta(seconds=seconds))
    events = selectors._with_response_bucket(
        MqlEvent.objects.filter(qualified_at=base), data.week.end
    ).values_list("qualified_at", "first_touch", "response")
    assert len(events) == 6
    for mql_at, first, bucket in events:
        assert bucket == response_bucket((first - mql_at).total_seconds())
    # The chart's single-pass form (width_bucket over the fact rows' first touch) agrees too.
    labels = ("none", *(label for _, label in selectors.RESPONSE_LIMITS), "later")
    indexed = (
        MqlEventFact.objects.filter(mql_at=base)
        .annotate(index=selectors._response_index(data.week.end))
        .values_list("index", flat=True)
    )
    assert sorted(labels[i] for i in indexed) == sorted(bucket for *_, bucket in events)
    assert [label for _, label in selectors.RESPONSE_LIMITS] == list(RESPONSE_BUCKETS[:4])


def test_a_lead_back_from_nurture_converts_and_is_touched_in_its_second_event_only(acme):
    # Given a lead qualified on Tuesday, never touched, returned to nurture and qualified
    # again on Thursday, then touched 30 minutes later and SQL a day after that; and a lead
    # qualified once, touched after 3 minutes and SQL the next day.
    now = timezone.now()
    week = last_week(now)
    version = signed_version(effective_at=now - timedelta(days=400))
    first_at = week.start + timedelta(days=1, hours=10)
    again_at = week.start + timedelta(days=3, hours=10)
    twice = mql_lead(version=version, mql_at=first_at, source="returning", stage="sql")
    MqlEvent.objects.create(lead=twice, definition=version.mql_definition, qualified_at=again_at)
    Activity.objects.create(
        lead=twice,
        kind="call",
        family="sales_touch",
        occurred_at=again_at + timedelta(minutes=30),
        external_id="second-life-touch",
    )
    sql_at = again_at + timedelta(days=1)
    StageChange.objects.create(lead=twice, from_stage="mql", to_stage="sql", occurred_at=sql_at)
    Lead.objects.filter(pk=twice.pk).update(mql_at=again_at, sql_at=sql_at)
    # Raw rows: keep the fact table current as the hand-off pipeline does.
    facts_refresh(lead_ids=[twice.pk], now=now)
    once_at = week.start + timedelta(days=1, hours=11)
    mql_lead(
        version=version,
        mql_at=once_at,
        source="returning",
        first_touch=once_at + timedelta(minutes=3),
        sql_at=once_at + timedelta(hours=20),
    )
    scope = Scope(period=week, as_of=week.end, tz=TZ, choice="custom")

    # When the dashboards count conversions and response times per MQL event,
    # Then the SQL stage and the touch belong to the event whose window holds them.
    by_source = {bar.label: bar for bar in selectors.mql_to_sql_by(scope, field="source")}
    assert (by_source["returning"].numerator, by_source["returning"].denominator) == (2, 3)
    weekly = selectors.mql_to_sql_by_period(scope)[-1]
    assert (weekly.numerator, weekly.denominator) == (2, 3)
    speed = {bar.label: bar for bar in selectors.speed_to_lead(scope)}
    assert (speed["none"].numerator, speed["none"].denominator) == (0, 1)
    assert (speed["< 5 min"].numerator, speed["< 5 min"].denominator) == (1, 1)
    assert (speed["< 1 h"].numerator, speed["< 1 h"].denominator) == (1, 1)
    assert speed["later"].denominator == 0
    [campaign] = [row for row in selectors.campaign_snapshot(scope) if row["source"] == "returning"]
    assert (campaign["mqls"], campaign["sqls"]) == (2 + 1, 2)
    # The never-touched first event drills down to its lead; the engine agrees on the rate.
    assert list(_drill(speed["none"].link).values_list("pk", flat=True)) == [twice.pk]
    kind = next(
        k for k in kind_selectors.commitment_kinds(period=week) if k.metric == "mql_to_sql_rate"
    )
    engine = compliance_selectors.kind_result(kind=kind, period=week, as_of=week.end)
    assert (engine.numerator, engine.denominator) == (2, 3)
    first, again = MqlEvent.objects.filter(lead=twice).order_by("qualified_at")
    assert (engine.outcomes[first.pk], engine.outcomes[again.pk]) == (Outcome.MISSED, Outcome.MET)


def test_pipeline_at_risk_from_missed_clocks_and_own_history(dataset):
    scope = _scope(dataset)
    # Give the history a gap: two on-time leads won 50 000 each, late ones none.
    won = [lead for lead in dataset.leads if lead.source == "webinar"][:2]
    Lead.objects.filter(pk__in=[w.pk for w in won]).update(
        # Won before the scope's moment (the end of last week), whatever day today is.
        stage="won",
        closed_at=scope.as_of - timedelta(days=1),
        amount=Decimal(50000),
    )
    risk = selectors.pipeline_at_risk(scope)
    assert risk.missed == 4
    # In SLA: 8 met clocks (6 in the week + 2 older opportunities), 2 won; out: 4, none won.
    assert risk.in_sla_rate == pytest.approx(2 / 8) and risk.out_sla_rate == 0
    assert risk.amount == Decimal(4 * 50000) * Decimal("0.25")


def _count_queries(func) -> int:
    with CaptureQueriesContext(connection) as queries:
        func()
    return len(queries)


def test_scorecard_and_charts_run_the_same_number_of_queries_for_10_and_200_leads(acme):
    small = known_dataset()
    scope = _scope(small)

    def everything():
        selectors.scorecard(scope=scope, role="executive")
        for spec in catalog.CHARTS.values():
            spec.build(scope)

    per_chart_small = {
        name: _count_queries(lambda s=spec: s.build(scope)) for name, spec in catalog.CHARTS.items()
    }
    scorecard_small = _count_queries(lambda: selectors.scorecard(scope=scope, role="executive"))
    for i in range(190):
        at = small.week.start + timedelta(days=4, hours=9, minutes=i)
        mql_lead(
            version=small.version,
            mql_at=at,
            owner=small.rep_a if i % 2 else small.rep_b,
            first_touch=at + timedelta(minutes=i % 90),
            source=("webinar", "events", "ads")[i % 3],
            campaign=f"Campaign {i % 7}",
            sql_at=at + timedelta(hours=3) if i % 4 == 0 else None,
        )
    assert (
        Lead.objects.filter(mql_at__gte=small.week.start, mql_at__lt=small.week.end).count() == 200
    )
    assert (
        _count_queries(lambda: selectors.scorecard(scope=scope, role="executive"))
        == scorecard_small
    )
    for name, spec in catalog.CHARTS.items():
        assert _count_queries(lambda s=spec: s.build(scope)) == per_chart_small[name], name
    # And in absolute terms every chart stays small; the trend is the largest: without frozen
    # snapshots yet, the engine computes each of its 12 periods live (2-3 queries each).
    assert per_chart_small.pop("compliance-trend") <= 40
    assert max(per_chart_small.values()) <= 16
    everything()


def test_a_monthly_volume_target_is_judged_over_its_month_even_when_a_week_is_picked(acme):
    from apps.compliance.periods import PeriodKind, period_for
    from tests.dashboards.factories import signed_version

    # Pinned: a Wednesday in mid-month, so the month began before the week (on the first
    # days of a month, or just after midnight, "this month" has no room before "now").
    now = datetime(2026, 11, 18, 12, tzinfo=UTC)
    version = signed_version(
        effective_at=now - timedelta(days=400),
        commitments=[
            {
                "owner_team": "marketing",
                "metric": "mql_volume",
                "params": {},
                "target": 150,
                "yellow_threshold": 120,
                "review_period": "month",
            }
        ],
    )
    month = period_for(PeriodKind.MONTH, now, TZ)
    week = period_for(PeriodKind.WEEK, now, TZ)
    # Three MQLs this month; one of them outside this week when the month started earlier.
    moments = [
        month.start + timedelta(hours=1),
        now - timedelta(minutes=2),
        now - timedelta(minutes=1),
    ]
    for moment in moments:
        mql_lead(version=version, mql_at=moment)
    scope = Scope(period=week, as_of=now, tz=TZ, choice="this_week")
    tile = selectors.scorecard(scope=scope, with_history=False).tiles[0]
    assert tile.period_label == month.label
    assert tile.value == "3" and tile.target.startswith("target ")
    assert "so far (150 for the period)" in tile.target
    assert _drill(tile.links["all"]).count() == 3


# --- a period under two SLA versions ------------------------------------------------------

FEEDBACK = "Sales gives feedback on every MQL"


def _with_labels(commitments, **changes):
    found = []
    for values in commitments:
        values = dict(values)
        if values["metric"] == "disposition_time":
            values["label"] = FEEDBACK
        values.update(changes.get(values["metric"], {}))
        found.append(values)
    return found


@pytest.fixture
def two_versions(acme):
    """Last week's known cohort under v1, then v2 from Thursday 00:00 with other targets and
    three more MQLs (contacted on time) on Friday; seven earlier weeks under v1."""
    from tests.dashboards.factories import COMMITMENTS, history, signed_version

    data = known_dataset()
    history(data, weeks=7)
    # The same promises (v2 names the feedback one and lowers the first-contact bar).
    change = data.week.start + timedelta(days=3)
    v2 = signed_version(
        effective_at=change,
        commitments=_with_labels(
            COMMITMENTS, first_contact_time={"target": 0.5, "yellow_threshold": 0.4}
        ),
        replaces=data.version,
    )
    for hour in (10, 11, 12):
        at = data.week.start + timedelta(days=4, hours=hour)
        mql_lead(version=v2, mql_at=at, owner=data.rep_a, first_touch=at + timedelta(minutes=5))
    return data, v2, change


def test_a_week_under_two_versions_shows_each_commitment_once_with_its_versions(two_versions):
    data, v2, _change = two_versions
    card = selectors.scorecard(scope=_scope(data), role="executive")

    titles = [tile.title for tile in card.tiles]
    assert len(titles) == len(set(titles)) == 6
    assert titles.count(FEEDBACK) == 1  # the newest version's label speaks for the kind
    assert not any(t.startswith("Disposition within") for t in titles)
    assert {tile.versions for tile in card.tiles if tile.metric != "pipeline_coverage"} == {
        "SLA v1 + v2"
    }
    first = _tiles(card)["first_contact_time"]
    # v1's 10 MQLs (6 on time) and v2's 3 (on time), each by its own version's clock.
    assert first.counts == "9 of 13 contacted within 4 business hours"
    # 90 % for the 3 days of v1, 50 % for the 4 days of v2.
    assert first.target.startswith(f"target {round((0.9 * 3 + 0.5 * 4) / 7 * 100)}%")
    assert first.commitment_id == v2.commitments.get(metric="first_contact_time").pk
    assert _drill(first.links["all"]).count() == 13
    # The sparkline reads the kind over the earlier (v1-only) weeks too.
    assert len(first.trend) == 8 and all("No data" not in line for line in first.trend)


def test_charts_keep_their_data_after_a_new_version_takes_effect(two_versions):
    data, _v2, _change = two_versions
    scope = _scope(data)

    contact = catalog.CHARTS["first-contact"].build(scope)
    assert sum(b.count for b in contact.points) == 12  # every contacted MQL, both versions
    trend = catalog.CHARTS["compliance-trend"].build(scope)
    values = [p.value for p in trend.points]
    assert values[-1] == pytest.approx(9 / 13)
    assert sum(v is not None for v in values) == 8  # this week and the seven before
    reps = selectors.rep_compliance(scope)
    first_contact = [b for b in reps if b.metric.startswith("First contact")]
    assert sum(b.met + b.missed + b.pending for b in first_contact) == 13


def test_the_huddle_names_the_versions_in_its_csv(two_versions, client_as):
    import csv
    import io

    from apps.dashboards.scope import period_token

    data, _v2, _change = two_versions
    token = period_token(data.week)
    response = client_as("sales_leader").get(f"/dashboards/reports/huddle/?period={token}&csv=sla")
    rows = list(csv.reader(io.StringIO(response.content.decode())))

    assert rows[0][-1] == "Measured under"
    feedback = [row for row in rows if row[0] == FEEDBACK]
    assert len(feedback) == 1 and feedback[0][-1] == "SLA v1 + v2"


def test_a_monthly_rate_tile_uses_the_month_for_every_figure_when_a_week_is_picked(acme):
    from apps.compliance.periods import PeriodKind, period_for
    from tests.dashboards.factories import signed_version

    now = datetime(2026, 11, 18, 12, tzinfo=UTC)  # a Wednesday mid-month (see below)
    monthly = {"params": {}, "review_period": "month"}
    version = signed_version(
        effective_at=now - timedelta(days=400),
        commitments=[
            {
                **monthly,
                "owner_team": "marketing",
                "metric": "mql_volume",
                "target": 150,
                "yellow_threshold": 120,
            },
            {
                **monthly,
                "owner_team": "marketing",
                "metric": "mql_to_sql_rate",
                "target": 0.3,
                "yellow_threshold": 0.2,
            },
        ],
    )
    month = period_for(PeriodKind.MONTH, now, TZ)
    week = period_for(PeriodKind.WEEK, now, TZ)
    # Two MQLs earlier in the month (one converted), one this week (not converted).
    mql_lead(
        version=version,
        mql_at=month.start + timedelta(hours=1),
        sql_at=month.start + timedelta(hours=5),
    )
    mql_lead(version=version, mql_at=month.start + timedelta(days=2))
    mql_lead(version=version, mql_at=now - timedelta(hours=1))
    scope = Scope(period=week, as_of=now, tz=TZ, choice="this_week")

    tiles = _tiles(selectors.scorecard(scope=scope, with_history=False))
    assert tiles["mql_volume"].period_label == tiles["mql_to_sql_rate"].period_label == month.label
    assert tiles["mql_volume"].value == "3"
    assert tiles["mql_to_sql_rate"].counts == "1 of 3 MQLs became SQL"
    assert _drill(tiles["mql_to_sql_rate"].links["all"]).count() == 3
