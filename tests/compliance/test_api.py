"""GET /api/v1/compliance/ and the drill-down: numbers, roles, validation, snapshots vs live."""

from datetime import date, timedelta

import pytest

from apps.compliance import services
from apps.compliance.periods import PeriodKind, period_starting
from tests.compliance import factories as f

WEEK = period_starting(PeriodKind.WEEK, date(2026, 3, 2), "UTC")
MONDAY = WEEK.start + timedelta(hours=9)
URL = "/api/v1/compliance/"
QUERY = {"period": "week", "start": "2026-03-02"}


@pytest.fixture
def world(acme, make_user):
    """Two reps' MQLs in the week of 2 March: rep A contacted one of two in time, rep B none."""
    version = f.signed_version(
        effective_at=MONDAY - timedelta(days=60),
        commitments=(
            f.FIRST_CONTACT_4H,
            f.MQL_VOLUME,
            {
                "owner_team": "marketing",
                "metric": "mql_to_sql_rate",
                "params": {},
                "target": 0.3,
                "yellow_threshold": 0.2,
            },
        ),
    )
    first_contact = version.commitments.get(metric="first_contact_time")
    rep_a, rep_b = make_user("rep"), make_user("rep")
    leads = {}
    for name, owner, contact in (
        ("a_on_time", rep_a, timedelta(hours=1)),
        ("a_late", rep_a, timedelta(hours=6)),
        ("b_never", rep_b, None),
    ):
        lead = f.lead(owner=owner, first_name=name)
        event = f.mql_event(lead=lead, at=MONDAY)
        f.clock(event=event, commitment=first_contact)
        if contact:
            f.touch(lead=lead, at=MONDAY + contact)
        leads[name] = lead
    return {"version": version, "first_contact": first_contact, "a": rep_a, "b": rep_b, **leads}


def _by_metric(response) -> dict:
    assert response.status_code == 200, response.content
    return {r["metric"]: r for r in response.json()["results"]}


def test_leaders_read_every_commitment_with_all_numbers(world, api_as):
    response = api_as("executive").get(URL, {**QUERY, "as_of": "2026-03-09T00:00:00Z"})

    body = response.json()
    assert body["period"] == {
        "kind": "week",
        "start": "2026-03-02",
        "end": "2026-03-08",
        "starts_at": "2026-03-02T00:00:00Z",
        "ends_at": "2026-03-09T00:00:00Z",
        "label": "Week of 2026-03-02",
    }
    results = _by_metric(response)
    assert set(results) == {"first_contact_time", "mql_volume", "mql_to_sql_rate"}
    fc = results["first_contact_time"]
    assert fc["value"] == pytest.approx(1 / 3)
    assert (fc["numerator"], fc["denominator"], fc["pending"], fc["status"]) == (1, 3, 0, "red")
    assert (fc["target"], fc["yellow_threshold"]) == (0.8, 0.6)
    assert fc["median_hours"] == pytest.approx(3.5)  # 1 h and 6 h business hours
    assert fc["p90_hours"] == pytest.approx(5.5)
    assert (fc["source"], fc["as_of"]) == ("live", "2026-03-09T00:00:00Z")
    assert fc["leads"]["missed"].endswith(
        f"/api/v1/compliance/{world['first_contact'].pk}/leads/"
        "?period=week&start=2026-03-02&as_of=2026-03-09T00%3A00%3A00Z&outcome=missed"
    )
    volume = results["mql_volume"]
    assert (volume["value"], volume["effective_target"], volume["status"]) == (3, 70, "red")


def test_as_of_semantics_pending_until_due_then_missed(world, api_as):
    client = api_as("sales_leader")

    before_due = _by_metric(client.get(URL, {**QUERY, "as_of": "2026-03-02T12:00:00+00:00"}))
    after_due = _by_metric(client.get(URL, {**QUERY, "as_of": "2026-03-02T13:00:01+00:00"}))

    # 12:00: only the 10:00 contact is known (met); the others are pending.
    assert (
        before_due["first_contact_time"]["numerator"],
        before_due["first_contact_time"]["pending"],
    ) == (1, 2)
    assert after_due["first_contact_time"]["pending"] == 0
    assert after_due["first_contact_time"]["denominator"] == 3
    # Volume is pro-rated while the week is open: 12 h of 168 h.
    assert before_due["mql_volume"]["effective_target"] == pytest.approx(70 * 12 / 168)


def test_a_rep_reads_their_own_compliance_only(world, api_as):
    client = api_as("rep", user=world["a"])

    results = _by_metric(client.get(URL, {**QUERY, "as_of": "2026-03-09T00:00:00Z"}))

    assert set(results) == {"first_contact_time", "mql_to_sql_rate"}  # no org-wide targets
    assert (
        results["first_contact_time"]["numerator"],
        results["first_contact_time"]["denominator"],
    ) == (1, 2)
    forbidden = client.get(URL, {**QUERY, "owner": world["b"].pk})
    assert forbidden.status_code == 403
    assert "owner" in forbidden.json()


def test_leaders_can_look_at_one_owner(world, api_as):
    results = _by_metric(
        api_as("sales_leader").get(
            URL, {**QUERY, "owner": world["b"].pk, "as_of": "2026-03-09T00:00:00Z"}
        )
    )
    assert (
        results["first_contact_time"]["numerator"],
        results["first_contact_time"]["denominator"],
    ) == (0, 1)


def test_a_marketer_reads_marketing_commitments(world, api_as):
    results = _by_metric(api_as("marketer").get(URL, QUERY))
    assert set(results) == {"mql_volume", "mql_to_sql_rate"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "year", "start": "2026-03-02"}, "period"),
        ({"period": "week"}, "start"),
        ({"period": "week", "start": "2026-03-02", "as_of": "yesterday"}, "as_of"),
        ({"period": "week", "start": "0001-01-01"}, "start"),  # not centuries of calendar
    ],
)
def test_bad_input_is_a_400_naming_the_field(world, api_as, params, field):
    response = api_as("executive").get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_without_as_of_closed_periods_come_from_their_frozen_snapshot(world, api_as):
    services.snapshots_refresh(now=WEEK.end + timedelta(minutes=1))
    client = api_as("executive")

    stored = _by_metric(client.get(URL, QUERY))
    live = _by_metric(client.get(URL, {**QUERY, "as_of": "2026-03-09T00:00:00Z"}))

    for metric, result in stored.items():
        assert (result["source"], result["frozen"]) == ("snapshot", True)
        numbers = (
            "value",
            "numerator",
            "denominator",
            "pending",
            "status",
            "median_hours",
            "as_of",
        )
        assert {k: result[k] for k in numbers} == {k: live[metric][k] for k in numbers}


def test_drill_down_lists_the_leads_behind_each_outcome(world, api_as):
    url = f"{URL}{world['first_contact'].pk}/leads/"
    client = api_as("sales_leader")
    params = {**QUERY, "as_of": "2026-03-09T00:00:00Z"}

    missed = client.get(url, {**params, "outcome": "missed"})
    met = client.get(url, {**params, "outcome": "met"})

    assert missed.status_code == 200
    assert {lead["name"].split()[0] for lead in missed.json()["results"]} == {"a_late", "b_never"}
    assert missed.json()["count"] == 2
    assert [lead["id"] for lead in met.json()["results"]] == [world["a_on_time"].pk]
    assert met.json()["results"][0]["clock_due_at"] == "2026-03-02T13:00:00Z"

    mine = api_as("rep", user=world["b"]).get(url, {**params, "outcome": "missed"})
    assert [lead["id"] for lead in mine.json()["results"]] == [world["b_never"].pk]


def test_drill_down_of_a_commitment_out_of_scope_is_a_404(world, api_as):
    volume = world["version"].commitments.get(metric="mql_volume")
    response = api_as("rep", user=world["a"]).get(
        f"{URL}{volume.pk}/leads/", {**QUERY, "outcome": "met"}
    )
    assert response.status_code == 404


def test_drill_down_is_paginated(world, api_as):
    for _ in range(55):
        lead = f.lead()
        f.mql_event(lead=lead, at=MONDAY + timedelta(hours=1))
    volume = world["version"].commitments.get(metric="mql_volume")
    response = api_as("executive").get(
        f"{URL}{volume.pk}/leads/", {**QUERY, "outcome": "met", "page": 2}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], len(body["results"])) == (58, 8)
