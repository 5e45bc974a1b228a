"""Chart builders are pure functions: the figure shows exactly the numbers it was given, every
element carries its drill-down link — and, on a known dataset, those numbers are the ones
the compliance engine computes."""

import json
from decimal import Decimal
from urllib.parse import quote

import plotly.graph_objects as go
import pytest

from apps.compliance.selectors import compliance_for_period
from apps.dashboards import chart_points, charts, selectors
from apps.dashboards.scope import Scope, period_token
from tests.dashboards.factories import TZ, known_dataset


def _links(trace) -> list:
    return list(trace.customdata)


def test_first_contact_distribution_draws_the_sla_line_between_bins():
    bins = [
        chart_points.HourBin("0–1 h", 0, 1, 5, "/d/?h=0"),
        chart_points.HourBin("1–4 h", 1, 4, 3, "/d/?h=1"),
        chart_points.HourBin("4–8 h", 4, 8, 2, "/d/?h=4"),
        chart_points.HourBin("8 h +", 8, None, 1, "/d/?h=8"),
    ]
    fig = charts.first_contact_distribution(bins, sla_hours=4, median_hours=1.5, p90_hours=6)
    assert isinstance(fig, go.Figure)
    bar = fig.data[0]
    assert list(bar.y) == [5, 3, 2, 1]
    assert _links(bar) == ["/d/?h=0", "/d/?h=1", "/d/?h=4", "/d/?h=8"]
    line = fig.layout.shapes[0]
    assert line.x0 == line.x1 == 1.5  # between "1–4 h" (index 1) and "4–8 h" (index 2)
    assert "SLA 4 business h" in fig.layout.annotations[0].text
    assert fig.layout.title.subtitle.text == "median 1.5 h · p90 6.0 h"


def test_compliance_trend_has_target_and_yellow_lines_and_symbols_per_status():
    points = [
        chart_points.TrendPoint("W1", 0.95, "green", "/a"),
        chart_points.TrendPoint("W2", 0.85, "yellow", "/b"),
        chart_points.TrendPoint("W3", 0.5, "red", "/c"),
        chart_points.TrendPoint("W4", None, "grey", "/d"),
    ]
    fig = charts.compliance_trend(points, target=0.9, yellow_threshold=0.8, title="First contact")
    values, target, yellow = fig.data
    assert list(values.y) == [95.0, 85.0, 50.0, None]
    assert list(values.marker.symbol) == ["circle", "diamond", "x", "circle-open"]
    assert list(values.text) == ["95%", "85%", "50%", "no data"]
    long = [chart_points.TrendPoint(f"W{i}", 0.5, "red") for i in range(12)]
    labels = charts.compliance_trend(long, target=0.9, yellow_threshold=0.8, title="t").data[0].text
    assert list(labels) == [""] * 11 + ["50%"]
    assert set(target.y) == {90.0} and target.name == "Target 90%"
    assert set(yellow.y) == {80.0} and yellow.name == "Yellow threshold 80%"
    assert [a.text for a in fig.layout.annotations] == ["Target 90%", "Yellow threshold 80%"]
    assert _links(values) == ["/a", "/b", "/c", "/d"]


def test_mql_volume_shows_the_pro_rated_target():
    points = [
        chart_points.VolumePoint("Wk 1", 40, 50, False, "/1"),
        chart_points.VolumePoint("Wk 2", 12, 25.0, True, "/2"),
    ]
    fig = charts.mql_volume(points)
    assert list(fig.data[0].y) == [40, 12]
    assert list(fig.data[1].y) == [50, 25.0]
    assert _links(fig.data[0]) == ["/1", "/2"]


def test_conversion_bars_show_n_of_n_and_no_data():
    bars = [chart_points.RateBar("webinar", 3, 10, "/w"), chart_points.RateBar("ads", 0, 0, "/a")]
    fig = charts.conversion_bars(bars, title="MQL → SQL by source")
    assert list(fig.data[0].y) == [30.0, None]
    assert list(fig.data[0].text) == ["30%<br>(3 of 10)", "no data<br>(0 of 0)"]
    horizontal = charts.conversion_bars(bars, title="x", horizontal=True)
    assert list(horizontal.data[0].x) == [30.0, None] and horizontal.data[0].orientation == "h"


def test_speed_to_lead_keeps_bucket_order():
    labels = ["< 5 min", "< 1 h", "< 4 h", "< 24 h", "later", "none"]
    bars = [chart_points.RateBar(label, i, 10, f"/{i}") for i, label in enumerate(labels)]
    fig = charts.speed_to_lead(bars)
    assert list(fig.data[0].x) == labels
    assert list(fig.data[1].y) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


def test_funnel_states_conversion_and_median_time_in_stage():
    stages = [
        chart_points.FunnelStage("Lead", 100, 2.0, "/l"),
        chart_points.FunnelStage("MQL", 40, 1.5, "/m"),
        chart_points.FunnelStage("SQL", 10, None, "/s"),
    ]
    fig = charts.funnel(stages)
    assert list(fig.data[0].x) == [100, 40, 10]
    assert fig.data[0].text[1] == "40 · 40% of Lead<br>median 1.5 d in stage"
    assert fig.data[0].text[2] == "10 · 25% of MQL"
    assert _links(fig.data[0]) == ["/l", "/m", "/s"]
    # Left-aligned bars whose words go beside them, on an axis three times the widest bar.
    assert (fig.data[0].orientation, fig.data[0].textposition) == ("h", "outside")
    assert tuple(fig.layout.xaxis.range) == (0, 300)


def test_a_stage_after_an_empty_one_states_no_conversion():
    stages = [
        chart_points.FunnelStage("Lead", 3),
        chart_points.FunnelStage("MQL", 0),
        chart_points.FunnelStage("SQL", 0),
    ]
    assert list(charts.funnel(stages).data[0].text) == ["3", "0 · 0% of Lead", "0"]


def test_rejection_pareto_sorts_reasons_and_stacks_sources():
    bars = [
        chart_points.ReasonBar("Budget", "ads", 2, "/b-ads"),
        chart_points.ReasonBar("Not a decision-maker", "ads", 3, "/n-ads"),
        chart_points.ReasonBar("Not a decision-maker", "webinar", 4, "/n-web"),
        chart_points.ReasonBar("Timeline", "webinar", 1, "/t-web"),
    ]
    fig = charts.rejection_pareto(bars)
    ads, webinar, cumulative = fig.data
    assert list(ads.x) == ["Not a decision-maker", "Budget", "Timeline"]
    assert list(ads.y) == [3, 2, 0] and list(webinar.y) == [4, 0, 1]
    assert _links(ads) == ["/n-ads", "/b-ads", None]
    assert [round(v) for v in cumulative.y] == [70, 90, 100]
    assert fig.layout.barmode == "stack"


def test_rep_compliance_ranks_reps_by_overall_rate():
    bars = [
        chart_points.RepBar("Blake", "First contact", 2, 3, 0, "/b"),
        chart_points.RepBar("Avery", "First contact", 4, 0, 1, "/a"),
        chart_points.RepBar("Avery", "Disposition", 1, 1, 0, "/a2"),
    ]
    fig = charts.rep_compliance(bars)
    first_contact = fig.data[0]
    assert list(first_contact.y) == ["Avery", "Blake"]
    assert list(first_contact.x) == [100.0, 40.0]
    assert _links(first_contact) == ["/a", "/b"]


def test_pipeline_coverage_band_and_colours():
    points = [
        chart_points.CoveragePoint("Q1", Decimal(350000), Decimal(100000), "/q1"),
        chart_points.CoveragePoint("Q2", Decimal(100000), Decimal(100000), "/q2"),
        chart_points.CoveragePoint("Q3", Decimal(1), None, "/q3"),
    ]
    fig = charts.pipeline_coverage(points)
    assert list(fig.data[0].y) == [3.5, 1.0, None]
    assert fig.data[0].text[0].startswith("3.5x") and fig.data[0].text[2].startswith("no target")
    band = fig.layout.shapes[0]
    assert (band.y0, band.y1) == (3.0, 4.0)


def test_revenue_by_source_has_win_rate_on_the_right_axis():
    points = [chart_points.RevenuePoint("webinar", Decimal(50000), 2, 2, "/w")]
    fig = charts.revenue_by_source(points)
    assert list(fig.data[0].y) == [50000.0]
    assert list(fig.data[1].y) == [50.0] and fig.data[1].yaxis == "y2"
    # The win rate's words go under the source, never next to its marker over a bar label.
    assert list(fig.data[0].x) == ["webinar<br>50% win (2 of 4)"]
    assert fig.data[1].mode == "markers"


def test_legends_sit_under_the_title_in_the_figures_own_coordinates():
    bars = [
        chart_points.ReasonBar("Budget", "ads", 2, "/b"),
        chart_points.ReasonBar("Budget", "web", 1, "/w"),
    ]
    layout = charts.rejection_pareto(bars).layout
    assert (layout.title.yref, layout.title.yanchor, layout.title.y) == ("container", "top", 1)
    assert (layout.legend.yref, layout.legend.yanchor) == ("container", "top")
    # Below the title block (46 px of the 400 px figure), growing downwards.
    assert layout.legend.y == pytest.approx(1 - 42 / 400)
    assert list(layout.yaxis2.tickvals) == [0, 25, 50, 75, 100]
    assert layout.yaxis.dtick == 1


def test_vertical_conversion_bars_leave_room_for_a_full_bars_label():
    fig = charts.conversion_bars([chart_points.RateBar("Wk 1", 2, 2, "/1")], title="x")
    assert tuple(fig.layout.yaxis.range) == (0, 130)
    assert list(fig.layout.yaxis.tickvals)[-1] == 100


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([chart_points.RateBar("a", 0, 0), chart_points.RateBar("b", 0, 0)], False),
        ([chart_points.RateBar("a", 0, 3)], True),
        (
            [chart_points.HourBin("0-1 h", 0, 1, 0), chart_points.HourBin("1 h +", 1, None, 0)],
            False,
        ),
        ([chart_points.VolumePoint("Wk", 0, 35.0)], False),
        ([chart_points.FunnelStage("Lead", 0), chart_points.FunnelStage("MQL", 0)], False),
        ([chart_points.TrendPoint("Wk", None, "grey")], False),
        ([chart_points.TrendPoint("Wk", 0.0, "red")], True),
        ([chart_points.RepBar("Avery", "First contact", 0, 0, 0)], False),
        ([chart_points.CoveragePoint("Q1", Decimal(0), Decimal(100))], False),
        ([chart_points.RevenuePoint("web", Decimal(0), 0, 1)], True),
        ([], False),
    ],
)
def test_a_chart_of_zeros_has_no_data(points, expected):
    assert chart_points.has_data(points) is expected


def test_sparkline_is_tiny_and_serializable():
    points = [chart_points.TrendPoint(f"W{i}", i / 10, "green", f"/{i}") for i in range(8)]
    fig = charts.sparkline(points, target=0.5)
    assert fig.layout.height == 60 and fig.layout.xaxis.visible is False
    data = json.loads(fig.to_json())
    assert data["data"][0]["customdata"] == [f"/{i}" for i in range(8)]


# --- the figure's data equals the compliance engine's numbers -----------------------------


@pytest.fixture
def dataset(acme):
    return known_dataset()


def _scope(data) -> Scope:
    # A closed week is measured as it stood at its end, like the engine's snapshots.
    return Scope(period=data.week, as_of=data.week.end, tz=TZ, choice="custom")


def _result(data, metric, scope):
    items = compliance_for_period(period=scope.period)
    return next(i.result for i in items if i.commitment.metric == metric)


def test_figures_show_the_compliance_numbers(dataset):
    scope = _scope(dataset)
    first_contact = _result(dataset, "first_contact_time", scope)
    to_sql = _result(dataset, "mql_to_sql_rate", scope)
    volume = _result(dataset, "mql_volume", scope)
    assert (first_contact.numerator, first_contact.denominator) == (6, 10)

    # Per-rep bars add up to the tile.
    reps = charts.rep_compliance(selectors.rep_compliance(scope))
    trace = next(t for t in reps.data if t.name.startswith("First contact"))
    shown = dict(zip(trace.y, trace.text, strict=True))  # horizontal: "rate (n of N)"
    assert shown["Avery Rep"] == "100% (4 of 4)"
    assert shown["Blake Rep"] == "40% (2 of 5)"
    assert shown["Unassigned"] == "0% (0 of 1)"
    bars = [b for b in selectors.rep_compliance(scope) if b.metric.startswith("First contact")]
    assert sum(b.met for b in bars) == first_contact.numerator
    assert sum(b.met + b.missed for b in bars) == first_contact.denominator

    # The weekly MQL→SQL bar and MQL volume of last week are the engine's numbers.
    weekly = selectors.mql_to_sql_by_period(scope)
    fig = charts.conversion_bars(weekly, title="t")
    assert fig.data[0].y[-1] == pytest.approx(to_sql.value * 100)
    assert (weekly[-1].numerator, weekly[-1].denominator) == (to_sql.numerator, to_sql.denominator)
    volume_fig = charts.mql_volume(selectors.mql_volume_points(scope))
    assert volume_fig.data[0].y[-1] == volume.value == 10

    # The trend's point for that week is the period's value.
    commitment = dataset.commitment("first_contact_time")
    trend = selectors.compliance_trend(scope, commitment=commitment, count=3)
    token = quote(period_token(dataset.week))
    point = next(p for p in trend if token in p.link)
    assert point.value == pytest.approx(first_contact.value)
    assert charts.compliance_trend(trend, target=0.9, yellow_threshold=0.8, title="t").data[0].y[
        trend.index(point)
    ] == pytest.approx(60.0)

    # The histogram counts every MQL contacted by now: 6 on time + 3 late.
    bins, info = selectors.first_contact_bins(scope)
    assert sum(b.count for b in bins) == 9
    assert info["sla_hours"] == 4.0
    within = sum(b.count for b in bins if b.upper is not None and b.upper <= 4)
    assert within == first_contact.numerator
    if first_contact.median_hours is not None:
        assert info["median_hours"] == pytest.approx(first_contact.median_hours)
