"""API: scorecard JSON, every chart's data and figure, drill-down leads; bounded queries."""

from urllib.parse import urlsplit

import pytest

from apps.dashboards.catalog import CHARTS
from tests.dashboards.factories import known_dataset


@pytest.fixture
def dataset(acme):
    return known_dataset()


def test_scorecard_json_has_tiles_with_numbers_and_links(dataset, api_as):
    client = api_as("executive")
    body = client.get("/api/v1/dashboards/scorecard/?period=last_week").json()
    assert body["period"]["label"] == dataset.week.label
    tiles = {t["metric"]: t for g in body["groups"] for t in g["tiles"]}
    first = tiles["first_contact_time"]
    assert (first["value"], first["status"], first["numerator"], first["denominator"]) == (
        0.6,
        "red",
        6.0,
        10.0,
    )
    assert first["status_label"] == "Off target" and len(first["trend"]) == 8
    met = client.get("/api/v1/dashboards/leads/?" + urlsplit(first["links"]["met"]).query).json()
    assert met["count"] == 6


def test_scorecard_api_names_the_bad_parameter(dataset, api_as):
    response = api_as("executive").get("/api/v1/dashboards/scorecard/?period=fortnight")
    assert response.status_code == 400 and "period" in response.json()
    custom = api_as("executive").get("/api/v1/dashboards/scorecard/?period=custom&kind=week")
    assert custom.status_code == 400 and "date" in custom.json()


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_every_chart_endpoint_returns_points_and_a_plotly_figure(dataset, api_as, name):
    body = api_as("executive").get(f"/api/v1/dashboards/charts/{name}/?period=last_week").json()
    assert body["name"] == name and body["figure"]["data"] and "layout" in body["figure"]
    for point in body["points"]:
        link = point.get("link")
        if link:
            assert link.startswith("/dashboards/leads/?")


def test_chart_api_rejects_unknown_charts_and_hides_coverage_from_reps(dataset, api_as):
    assert api_as("executive").get("/api/v1/dashboards/charts/nope/").status_code == 400
    rep = api_as("rep", user=dataset.rep_a)
    assert rep.get("/api/v1/dashboards/charts/coverage/").status_code == 400
    funnel = rep.get("/api/v1/dashboards/charts/speed-to-lead/?period=last_week").json()
    # Rep A's 4 MQLs only: < 5 min, < 1 h, < 4 h ×2.
    assert [p["denominator"] for p in funnel["points"]] == [1, 1, 2, 0, 0, 0]


def test_drilldown_api_for_reps_is_their_own_leads(dataset, api_as):
    rep = api_as("rep", user=dataset.rep_b)
    tiles = rep.get("/api/v1/dashboards/scorecard/?period=last_week").json()
    first = next(
        t for g in tiles["groups"] for t in g["tiles"] if t["metric"] == "first_contact_time"
    )
    query = urlsplit(first["links"]["all"]).query.replace(f"&owner={dataset.rep_b.pk}", "")
    body = rep.get("/api/v1/dashboards/leads/?" + query).json()
    assert body["count"] == 5
    assert {lead["owner_id"] for lead in body["results"]} == {dataset.rep_b.pk}
    assert rep.get("/api/v1/dashboards/leads/?period=bad").status_code == 400


@pytest.mark.parametrize("size", [0, 190])
def test_endpoints_have_a_bounded_query_count(acme, api_as, django_assert_max_num_queries, size):
    from datetime import timedelta

    from django.utils import timezone

    from apps.compliance.services import snapshots_recompute

    data = known_dataset(extra_mqls=size)
    # The steady state: the minute sweep keeps a snapshot of every period (frozen once closed).
    snapshots_recompute(first_day=(data.now - timedelta(days=100)).date(), last_day=data.now.date())
    client = api_as("executive")
    # The same ceilings hold for 10 and 200 MQLs in the week (test_selectors checks equality).
    # The scorecard's queries grow with the commitments (6 here: 8-period sparklines read
    # from snapshots, each open period computed live), never with the leads. About half of
    # the count is django-tenants' SET search_path before each of the engine's raw cursors.
    with django_assert_max_num_queries(70):
        assert client.get("/api/v1/dashboards/scorecard/?period=last_week").status_code == 200
    with django_assert_max_num_queries(70):
        assert client.get("/api/v1/dashboards/scorecard/?period=this_week").status_code == 200
    # Computed on the first read (plus one read and one upsert of its snapshot) ...
    for name, ceiling in {"reps": 22, "speed-to-lead": 12, "compliance-trend": 22}.items():
        with django_assert_max_num_queries(ceiling):
            response = client.get(f"/api/v1/dashboards/charts/{name}/?period=last_week")
            assert response.status_code == 200
        # ... then read from it: the same body; the request's own queries (token, tenant,
        # timezone, user) and one read of the snapshot, whatever the chart.
        with django_assert_max_num_queries(8):
            again = client.get(f"/api/v1/dashboards/charts/{name}/?period=last_week")
        assert again.json() == response.json()
    assert timezone.now() >= data.now


def test_a_chart_with_nothing_to_draw_says_so(acme, api_as):
    body = api_as("executive").get("/api/v1/dashboards/charts/speed-to-lead/").json()

    assert body["has_data"] is False
    assert all(point["denominator"] == 0 for point in body["points"])
