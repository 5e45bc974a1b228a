"""The business-calendar preview by API: "a lead arriving at … is due at …", for a saved calendar
(GET) and for one not saved yet (POST), through the same pure business_time.add as the page."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django_tenants.utils import schema_context

from apps.sla import services
from apps.sla.models import BusinessCalendar

pytestmark = pytest.mark.django_db

DRAFT = reverse("api:sla:calendar_draft_preview")
NINE_TO_FIVE = [[["09:00", "17:00"]]] * 5 + [[], []]
SPLIT_SHIFT = [[["09:00", "12:00"], ["13:00", "17:00"]]] * 5 + [[], []]
ALL = ["admin", "executive", "marketing_leader", "marketer", "sales_leader", "rep", "integration"]


def preview_url(calendar) -> str:
    return reverse("api:sla:calendar_preview", kwargs={"pk": calendar.pk})


def calendar(name="London", tz="Europe/London", week=None, **kw) -> BusinessCalendar:
    return services.calendar_create(
        actor=None, name=name, timezone_name=tz, week=week or NINE_TO_FIVE, **kw
    )


@pytest.fixture
def london(acme):
    return calendar()


@pytest.mark.parametrize(
    ("arrival", "due"),
    [
        # Saturday 10:00 + 4 business hours is Monday 13:00 (not 14:00).
        ("2026-03-07T10:00", "2026-03-09T13:00:00+00:00"),
        ("2026-03-07T10:00+01:00", "2026-03-09T13:00:00+00:00"),
        ("2026-03-07T10:00:00Z", "2026-03-09T13:00:00+00:00"),
        # A "+" that a query string turned into a space is still an offset.
        ("2026-03-06T16:00 01:00", "2026-03-09T11:00:00+00:00"),
        ("2026-03-06T16:00:00.000 0100", "2026-03-09T11:00:00+00:00"),
    ],
)
def test_a_lead_arriving_at_is_due_at(api_as, london, arrival, due):
    response = api_as("rep").get(preview_url(london), {"arrival": arrival, "hours": 4})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["due_at"] == due
    assert body["calendar"] == london.pk and body["timezone"] == "Europe/London"
    assert body["clock"] == "business" and body["hours"] == 4
    assert body["sentence"].startswith("A lead arriving at ")
    assert "is due at Mon 09 Mar 2026" in body["sentence"]


def test_the_due_time_is_right_across_a_dst_change(api_as, acme):
    new_york = calendar(name="New York", tz="America/New_York")
    # Friday 16:00 EST + 4 business hours: 1 h on Friday, 3 h on Monday after clocks sprang forward.
    body = api_as("admin").get(preview_url(new_york), {"arrival": "2026-03-06T16:00"}).json()
    assert body["arrival"] == "2026-03-06T16:00:00-05:00"
    assert body["due_at"] == "2026-03-09T12:00:00-04:00"
    assert body["elapsed_hours"] == 67  # Fri 21:00 UTC -> Mon 16:00 UTC


def test_public_holidays_are_skipped_and_listed(api_as, acme):
    england = calendar(name="England", holiday_country="GB", holiday_subdivision="ENG")
    body = api_as("admin").get(preview_url(england), {"arrival": "2026-12-24T16:00"}).json()
    # 1 h on Christmas Eve; Christmas, the weekend and the Boxing Day substitute are off.
    assert body["due_at"] == "2026-12-29T12:00:00+00:00"
    names = {day["name"] for day in body["days_off"]}
    assert "Christmas Day" in names
    assert body["days_off"][0]["date"] == "2026-12-25"
    assert body["days_off_horizon_days"] == 120


def test_elapsed_clock_counts_every_hour(api_as, london):
    body = (
        api_as("admin")
        .get(preview_url(london), {"arrival": "2026-03-07T10:00", "hours": 4, "clock": "calendar"})
        .json()
    )
    assert body["due_at"] == "2026-03-07T14:00:00+00:00" and body["clock"] == "calendar"
    assert "4 elapsed hours" in body["sentence"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"arrival": "yesterday"}, "arrival"),
        ({"arrival": "2026-13-40T10:00"}, "arrival"),
        ({"arrival": "9999-12-31T23:00Z"}, "arrival"),
        ({"arrival": "1900-01-01T10:00Z"}, "arrival"),
        ({"hours": "0"}, "hours"),
        ({"hours": "-4"}, "hours"),
        ({"hours": "1e9"}, "hours"),
        ({"hours": "soon"}, "hours"),
        ({"clock": "moon"}, "clock"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api_as, london, query, field):
    response = api_as("admin").get(preview_url(london), query)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_arrival_error_says_what_format_is_expected(api_as, london):
    response = api_as("admin").get(preview_url(london), {"arrival": "07/03/2026 10:00"})
    assert "ISO 8601" in response.json()["arrival"][0]


@pytest.mark.parametrize("role", ALL)
def test_everyone_may_ask(api_as, london, role):
    response = api_as(role).get(preview_url(london), {"arrival": "2026-03-07T10:00"})
    assert response.status_code == 200
    response = api_as(role).post(
        DRAFT, {"arrival": "2026-03-07T10:00"}, content_type="application/json"
    )
    assert response.status_code == 200


def test_an_unknown_calendar_is_404(api_as, acme):
    url = reverse("api:sla:calendar_preview", kwargs={"pk": 987654})
    assert api_as("admin").get(url).status_code == 404


def test_another_organizations_calendar_is_not_previewed(api_as, acme, globex):
    with schema_context(globex.schema_name):
        theirs = calendar(name="Globex Tokyo", tz="Asia/Tokyo")
    response = api_as("admin").get(preview_url(theirs), {"arrival": "2026-03-07T10:00"})
    assert response.status_code == 404 or response.json()["timezone"] != "Asia/Tokyo"


# --- a calendar not saved yet ------------------------------------------------------


def post(client, payload):
    return client.post(DRAFT, payload, content_type="application/json")


def test_draft_calendar_with_a_lunch_break(api_as, acme):
    before = BusinessCalendar.objects.count()
    response = post(
        api_as("admin"),
        {
            "timezone": "Europe/Berlin",
            "week": SPLIT_SHIFT,
            "arrival": "2026-03-09T11:00",
            "hours": 2,
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["calendar"] is None
    assert body["due_at"] == "2026-03-09T14:00:00+01:00"  # 11–12, lunch, 13–14
    assert BusinessCalendar.objects.count() == before  # nothing saved


def test_draft_calendar_defaults_and_closed_dates(api_as, acme):
    body = post(
        api_as("rep"), {"arrival": "2026-03-07T10:00", "closed_dates": ["2026-03-09"]}
    ).json()
    # Default: Mon–Fri 09:00–17:00 UTC; Monday is a company day off.
    assert body["timezone"] == "UTC"
    assert body["due_at"] == "2026-03-10T13:00:00+00:00"
    assert {"date": "2026-03-09", "name": "Company closed day"} in body["days_off"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"week": [[["09:00", "17:00"]]]}, "week"),
        ({"week": [[["17:00", "09:00"]]] * 7}, "week"),
        ({"week": [[["9 am", "5 pm"]]] * 7}, "week"),
        ({"week": [[], [], [], [], [], [], []]}, "week"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"closed_dates": ["not-a-date"]}, "closed_dates"),
        ({"arrival": "tomorrow-ish"}, "arrival"),
        ({"hours": 5000}, "hours"),
        ({"closed_dates": "2026-03-09"}, "closed_dates"),
    ],
)
def test_draft_calendar_errors_name_the_field(api_as, acme, payload, field):
    response = post(api_as("admin"), {"arrival": "2026-03-07T10:00", **payload})
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_draft_calendar_with_no_working_time_ahead_is_a_400(api_as, acme):
    first = date(2026, 3, 8)
    closed = [(first + timedelta(days=n)).isoformat() for n in range(800)]
    response = post(api_as("admin"), {"arrival": "2026-03-07T10:00", "closed_dates": closed})
    assert response.status_code == 400
    assert "no working time" in response.json()["closed_dates"][0]
