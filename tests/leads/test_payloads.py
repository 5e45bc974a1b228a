"""Pure parsing of inbound items: normalisation and per-field errors (no database)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from apps.leads.geography import country_code, region_for
from apps.leads.payloads import normalize_source, parse_activity_item, parse_lead_item

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def test_lead_item_is_normalised():
    item, errors = parse_lead_item(
        {
            "external_id": " 00Q1 ",
            "email": " Ana@Example.COM ",
            "title": "VP of Marketing",
            "company_domain": "https://www.example.com/about",
            "company_size": "500-1000",
            "annual_revenue": "$1,250,000",
            "country": "Germany",
            "source": "Trade Show",
            "stage": "Opportunity",
            "amount": 42000,
            "expected_close": "2025-09-30",
            "stage_changed_at": "2025-06-01T10:00:00+02:00",
            "properties": {"utm_medium": "email"},
        },
        now=NOW,
    )
    assert errors == {}
    assert item.external_id == "00Q1"
    assert item.values["email"] == "ana@example.com"
    assert item.values["seniority"] == "vp"
    assert item.values["company_domain"] == "example.com"
    assert item.values["company_size"] == 500  # a band counts as its lower bound
    assert item.values["annual_revenue"] == Decimal("1250000.00")
    assert item.values["country"] == "DE"
    assert item.values["source"] == "events"
    assert item.values["expected_close"] == date(2025, 9, 30)
    assert item.stage == "opportunity"
    assert item.stage_changed_at == datetime(2025, 6, 1, 8, tzinfo=UTC)
    assert item.properties == {"utm_medium": "email"}


def test_only_sent_keys_are_values():
    item, errors = parse_lead_item({"external_id": "x", "company": "Acme"}, now=NOW)
    assert not errors
    assert item.values == {"company": "Acme"}
    assert item.has_owner is False


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"email": "ana@example.com"}, "external_id"),
        ({"external_id": "x", "email": "not-an-email"}, "email"),
        ({"external_id": "x", "company_size": "lots"}, "company_size"),
        ({"external_id": "x", "company_size": -3}, "company_size"),
        ({"external_id": "x", "country": "Atlantis"}, "country"),
        ({"external_id": "x", "stage": "mql"}, "stage"),
        ({"external_id": "x", "stage": "hot"}, "stage"),
        ({"external_id": "x", "amount": "-5"}, "amount"),
        ({"external_id": "x", "expected_close": "next spring"}, "expected_close"),
        ({"external_id": "x", "stage_changed_at": "2025-06-01T10:00:00"}, "stage_changed_at"),
        ({"external_id": "x", "created_at": "2030-01-01T00:00:00Z"}, "created_at"),
        ({"external_id": "x", "properties": ["a"]}, "properties"),
        ({"external_id": "x", "compnay": "typo"}, "compnay"),
        ({"external_id": "x", "title": "x" * 201}, "title"),
    ],
)
def test_lead_item_errors_name_the_field(raw, field):
    item, errors = parse_lead_item(raw, now=NOW)
    assert item is None
    assert field in errors and errors[field][0]


def test_lead_item_must_be_an_object():
    assert parse_lead_item(["x"], now=NOW)[1] == {
        "non_field_errors": ["Each item must be a JSON object."]
    }


def test_naive_times_need_a_zone_unless_one_is_given():
    raw = {"external_id": "x", "created_at": "2025-05-01 09:30"}
    assert "created_at" in parse_lead_item(raw, now=NOW)[1]
    item, errors = parse_lead_item(raw, now=NOW, naive_tz=ZoneInfo("Europe/Berlin"))
    assert not errors
    assert item.created_at == datetime(2025, 5, 1, 7, 30, tzinfo=UTC)


def test_activity_item():
    item, errors = parse_activity_item(
        {
            "external_id": "e1",
            "lead": "L1",
            "kind": "call",
            "occurred_at": "2025-06-02T13:00:00+02:00",
            "actor": "Rep@Acme.test",
            "note": " left a voicemail ",
        },
        now=NOW,
    )
    assert not errors
    assert item.actor_email == "rep@acme.test"
    assert item.occurred_at == datetime(2025, 6, 2, 11, tzinfo=UTC)
    assert item.note == "left a voicemail"


def test_design_touch_names_are_accepted_and_stored_by_the_first_names():
    base = {"external_id": "e", "lead": "L", "occurred_at": "2025-06-01T00:00:00Z"}
    item, errors = parse_activity_item({**base, "kind": "email", "actor": "r@acme.test"}, now=NOW)
    assert not errors and item.kind == "email_sent" and item.actor_email == "r@acme.test"
    item, errors = parse_activity_item({**base, "kind": "email_sent"}, now=NOW)
    assert not errors and item.kind == "email_sent"
    _, errors = parse_activity_item({**base, "kind": "fax"}, now=NOW)
    assert "email" in errors["kind"][0] and "email_sent" in errors["kind"][0]


def test_activity_a_few_minutes_ahead_is_a_clock_not_a_forgery():
    ahead = (NOW + timedelta(minutes=3)).isoformat()
    far = (NOW + timedelta(hours=1)).isoformat()
    base = {"external_id": "e", "lead": "L", "kind": "page_view"}
    assert not parse_activity_item({**base, "occurred_at": ahead}, now=NOW)[1]
    assert "occurred_at" in parse_activity_item({**base, "occurred_at": far}, now=NOW)[1]


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ({}, {"external_id", "lead", "kind", "occurred_at"}),
        (
            {"external_id": "e", "lead": "L", "kind": "fax", "occurred_at": "yesterday"},
            {"kind", "occurred_at"},
        ),
        (
            {
                "external_id": "e",
                "lead": "L",
                "kind": "page_view",
                "occurred_at": "2025-06-01T00:00:00Z",
                "actor": "rep@acme.test",
            },
            {"actor"},
        ),
        (
            {
                "external_id": "e",
                "lead": "L",
                "kind": "call",
                "occurred_at": "2025-06-01T00:00:00Z",
                "properties": "x",
                "when": 1,
            },
            {"properties", "when"},
        ),
    ],
)
def test_activity_errors(raw, fields):
    item, errors = parse_activity_item(raw, now=NOW)
    assert item is None
    assert set(errors) == fields


def test_ui_activity_may_omit_its_external_id():
    raw = {"lead": "L", "kind": "call", "occurred_at": "2025-06-01T00:00:00Z"}
    assert "external_id" in parse_activity_item(raw, now=NOW)[1]
    item, errors = parse_activity_item(raw, now=NOW, external_id_required=False)
    assert not errors and item.external_id is None


def test_countries_and_regions():
    assert country_code("united states of america") == "US"
    assert country_code(" de ") == "DE"
    assert country_code("Narnia") is None
    assert region_for("FR") == "EMEA"
    assert region_for("BR") == "LATAM"
    assert region_for("XX") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PAID_SEARCH", "paid_search"),
        ("Organic Search", "organic"),
        ("Partner Referral", "partner"),
        ("webinar", "webinar"),
    ],
)
def test_sources_fold_to_one_name(raw, expected):
    assert normalize_source(raw) == expected
