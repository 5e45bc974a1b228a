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


# --- the contract: review periods, kinds, integers, as_of, any day of the period -------------

MONTHLY_RATE = {
    "owner_team": "marketing",
    "metric": "mql_to_sql_rate",
    "params": {},
    "target": 0.3,
    "yellow_threshold": 0.2,
    "review_period": "month",
}
MONTHLY_VOLUME = dict(f.MQL_VOLUME, target=150, yellow_threshold=120, review_period="month")


@pytest.fixture
def monthly(world):
    """The weekly world plus a second version from Thursday 5 March, whose first contact is
    3 business hours and which adds two monthly commitments."""
    thursday = WEEK.start + timedelta(days=3)
    v2 = f.signed_version(
        effective_at=thursday,
        commitments=(
            dict(f.FIRST_CONTACT_4H, params={"hours": 3, "clock": "business"}, target=0.9),
            MONTHLY_VOLUME,
            MONTHLY_RATE,
        ),
        contract=world["version"].contract,
        number=2,
    )
    lead = f.lead(first_name="after_change")
    event = f.mql_event(lead=lead, at=thursday + timedelta(hours=9))
    f.clock(event=event, commitment=v2.commitments.get(metric="first_contact_time"))
    f.touch(lead=lead, at=thursday + timedelta(hours=10))
    return {**world, "v2": v2}


def test_a_week_scores_only_the_weekly_commitments_once_per_kind(monthly, api_as):
    response = api_as("executive").get(URL, {**QUERY, "as_of": "2026-03-09T00:00:00Z"})

    body = response.json()
    # v2 reviews volume and conversion per month: the kinds follow their newest version.
    assert [(r["kind"], r["review_period"]) for r in body["results"]] == [
        ("sales.first_contact_time", "week"),
    ]
    fc = body["results"][0]
    assert [v["number"] for v in fc["sla_versions"]] == [1, 2]
    assert fc["commitment_id"] == monthly["v2"].commitments.get(metric="first_contact_time").pk
    assert len(fc["commitment_ids"]) == 2
    # v1's three MQLs (one on time) and v2's one (on time), each by its own clock.
    assert (fc["numerator"], fc["denominator"]) == (2, 4)
    # 0.8 for the 3 days of v1, 0.9 for the 4 days of v2.
    assert fc["target"] == pytest.approx((0.8 * 3 + 0.9 * 4) / 7)
    assert fc["status"] == "red"


def test_review_period_all_or_one_commitment_asks_for_more(monthly, api_as):
    client = api_as("executive")
    params = {**QUERY, "as_of": "2026-03-09T00:00:00Z"}

    everything = client.get(URL, {**params, "review_period": "all"}).json()["results"]
    volume = next(r for r in everything if r["kind"] == "marketing.mql_volume")
    assert volume["review_period"] == "month"  # v2 speaks for the kind
    assert [v["number"] for v in volume["sla_versions"]] == [1, 2]
    # 70 a week for v1's 3 days, 150 a month (31 days) for v2's 4 days, over this week.
    assert volume["target"] == pytest.approx(70 * 3 / 7 + 150 * 4 / 31)
    assert volume["value"] == 4

    by_kind = client.get(URL, {**params, "commitment": "sales.first_contact_time"}).json()
    assert [r["kind"] for r in by_kind["results"]] == ["sales.first_contact_time"]
    v1_id = monthly["first_contact"].pk
    by_id = client.get(URL, {**params, "commitment": str(v1_id)}).json()
    assert by_id["results"] == by_kind["results"]

    monthly_only = client.get(URL, {**params, "review_period": "month"}).json()["results"]
    assert {r["review_period"] for r in monthly_only} == {"month"}


def test_counts_are_integers_and_the_pro_rated_target_is_its_own_field(world, api_as):
    response = api_as("executive").get(URL, {**QUERY, "as_of": "2026-03-04T12:00:00Z"})

    results = _by_metric(response)
    volume = results["mql_volume"]
    assert volume["value"] == 3 and isinstance(volume["value"], int)
    assert volume["numerator"] == 3 and isinstance(volume["numerator"], int)
    assert volume["denominator"] is None
    assert volume["target"] == 70
    assert volume["effective_target"] == pytest.approx(70 * (2 * 24 + 12) / 168)
    fc = results["first_contact_time"]
    assert all(isinstance(fc[k], int) for k in ("numerator", "denominator", "pending"))
    assert b"3.0" not in response.content


@pytest.mark.parametrize(
    "as_of",
    [
        "2026-03-09T00:00:00Z",
        "2026-03-09T00:00Z",
        "2026-03-09T02:00:00+02:00",
        "2026-03-09T02:00:00 02:00",  # an unencoded "+" arrives as a space
        "2026-03-08T19:00:00-05:00",
    ],
)
def test_as_of_accepts_z_offsets_and_a_plus_decoded_as_a_space(world, api_as, as_of):
    response = api_as("executive").get(f"{URL}?period=week&start=2026-03-02&as_of={as_of}")

    assert response.status_code == 200, response.content
    assert {r["as_of"] for r in response.json()["results"]} == {"2026-03-09T00:00:00Z"}


def test_a_bad_as_of_names_the_expected_format(world, api_as):
    response = api_as("executive").get(URL, {**QUERY, "as_of": "09/03/2026"})

    assert response.status_code == 400
    message = " ".join(response.json()["as_of"])
    assert "YYYY-MM-DDTHH:MM" in message and "Z" in message


def test_any_day_of_a_period_scores_the_period_containing_it(world, api_as):
    client = api_as("executive")

    tuesday = client.get(URL, {"period": "week", "start": "2026-03-03"}).json()
    sunday = client.get(URL, {"period": "week", "start": "2026-03-08"}).json()
    month = client.get(URL, {"period": "month", "start": "2026-03-17"}).json()

    assert tuesday["period"]["start"] == sunday["period"]["start"] == "2026-03-02"
    assert (month["period"]["start"], month["period"]["end"]) == ("2026-03-01", "2026-03-31")


@pytest.mark.parametrize(
    ("commitment", "message"),
    [("sales", "not a commitment kind"), ("999999", "No signed commitment")],
)
def test_an_unknown_commitment_is_a_400_naming_the_field(world, api_as, commitment, message):
    response = api_as("executive").get(URL, {**QUERY, "commitment": commitment})

    assert response.status_code == 400
    assert message in " ".join(response.json()["commitment"])


def test_median_and_p90_interpolate_between_closest_ranks(world, api_as):
    # Contacts after 1, 6, 2 and 3 business hours: percentile_cont gives 2.5 and 5.1.
    first_contact = world["first_contact"]
    for hours in (2, 3):
        lead = f.lead()
        f.clock(event=f.mql_event(lead=lead, at=MONDAY), commitment=first_contact)
        f.touch(lead=lead, at=MONDAY + timedelta(hours=hours))

    fc = _by_metric(api_as("executive").get(URL, {**QUERY, "as_of": "2026-03-09T00:00:00Z"}))[
        "first_contact_time"
    ]
    assert (fc["median_hours"], fc["p90_hours"]) == pytest.approx((2.5, 3 + 0.7 * 3))


def test_the_schema_states_the_percentile_method_and_the_contract(anon_client):
    schema = anon_client.get("/api/schema/?format=json").content.decode()

    assert "percentile_cont" in schema
    assert "linear interpolation between closest ranks" in schema
    assert "review_period" in schema
    assert "effective_target" in schema
