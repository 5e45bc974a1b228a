"""SLA pages: drafting in the browser, signing with the password, the printable page, calendars."""

from datetime import UTC, date, datetime

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.exceptions import DomainError
from apps.sla import services
from apps.sla.models import (
    BusinessCalendar,
    ChangeAction,
    Commitment,
    SlaVersion,
    VersionStatus,
)
from tests.sla import factories as f

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def definition(acme):
    return f.definition(status="published", version=1)


def _draft(client) -> SlaVersion:
    response = client.post(reverse("sla:version_create"), {"template": "sample_sla"})
    assert response.status_code == 302
    return SlaVersion.objects.order_by("-id").first()


def test_a_leader_drafts_edits_submits_and_both_sign_in_the_browser(client_as, definition):
    marketing = client_as("marketing_leader")
    sales = client_as("sales_leader")
    version = _draft(marketing)
    assert version.created_by == marketing.user

    page = marketing.get(reverse("sla:version_detail", args=[version.pk]))
    assert page.status_code == 200
    assert "within 4 business hours" in page.content.decode()

    # htmx edit returns the body fragment only
    response = marketing.post(
        reverse("sla:commitment_add", args=[version.pk]),
        {
            "new-owner_team": "sales",
            "new-metric": "first_contact_time",
            "new-hours": "2",
            "new-clock": "business",
            "new-target": "85",
            "new-yellow_threshold": "70",
            "new-review_period": "week",
            "new-segment-0-field": "source",
            "new-segment-0-op": "equals",
            "new-segment-0-value": "webinar",
            "new-segment-1-field": "",  # the blank row the builder always offers
            "new-label": "Webinar leads fast",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    added = version.commitments.get(label="Webinar leads fast")
    assert (added.params, added.target, added.yellow_threshold) == (
        {"hours": 2, "clock": "business"},
        0.85,
        0.7,
    )
    assert "each week&#x27;s MQLs whose source is webinar" in response.content.decode()

    response = marketing.post(reverse("sla:version_submit", args=[version.pk]))
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == VersionStatus.AWAITING_SIGNATURES

    wrong = sales.post(reverse("sla:version_sign", args=[version.pk]), {"password": "nope"})
    assert wrong.status_code == 400
    assert "not your password" in wrong.content.decode()

    response = sales.post(
        reverse("sla:version_sign", args=[version.pk]),
        {"password": PASSWORD, "content_hash": version.content_hash},
        HTTP_USER_AGENT="Journey/1.0",
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 302
    signature = version.signatures.get()
    assert (signature.team, signature.channel, signature.user_agent, signature.ip_address) == (
        "sales",
        "web",
        "Journey/1.0",
        "198.51.100.7",
    )
    unseen = marketing.post(reverse("sla:version_sign", args=[version.pk]), {"password": PASSWORD})
    assert unseen.status_code == 400 and "content hash" in unseen.content.decode()
    marketing.post(
        reverse("sla:version_sign", args=[version.pk]),
        {"password": PASSWORD, "content_hash": version.content_hash},
    )
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE

    document = sales.get(reverse("sla:document"))
    text = document.content.decode()
    assert document.status_code == 200
    assert "What a qualified lead (MQL) is" in text
    assert "Company size is at least 50" in text
    assert "below 80% for 2 consecutive closed weeks" in text
    assert version.content_hash in text
    history = sales.get(reverse("sla:history"))
    assert "signed for sales" in history.content.decode()


def test_a_signed_version_shows_no_edit_controls_and_refuses_edits(client_as, definition):
    marketing = client_as("marketing_leader")
    version = f.signed_version(effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    page = marketing.get(reverse("sla:version_detail", args=[version.pk])).content.decode()
    assert "Add a commitment" not in page
    assert "Draft an amendment" in page
    commitment = version.commitments.first()
    response = marketing.post(
        reverse("sla:commitment_remove", args=[version.pk, commitment.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert "signed and cannot be changed" in response.content.decode()
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_a_rep_can_read_but_not_draft_or_sign(client_as, definition):
    rep = client_as("rep")
    assert rep.get(reverse("sla:overview")).status_code == 200
    assert rep.post(reverse("sla:version_create"), {"template": "sample_sla"}).status_code == 403
    version = f.signed_version(effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert (
        rep.post(reverse("sla:version_sign", args=[version.pk]), {"password": PASSWORD}).status_code
        == 403
    )
    assert not SlaVersion.objects.filter(created_by=rep.user).exists()


def test_admin_edits_a_calendar_with_split_shift_and_holidays(client_as):
    admin = client_as("admin")
    response = admin.post(
        reverse("sla:calendar_list"),
        {
            "name": "London office",
            "timezone": "Europe/London",
            "holiday_country": "GB",
            "holiday_subdivision": "eng",
            "closed_dates": "2026-12-24\n2026-12-31",
            **{f"day_{i}": "09:00-12:30, 13:30-17:30" for i in range(5)},
            "day_5": "closed",
            "day_6": "",
        },
    )
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(name="London office")
    assert calendar.week[0] == [["09:00", "12:30"], ["13:30", "17:30"]]
    assert calendar.week[5] == []
    assert (calendar.holiday_subdivision, calendar.closed_dates) == (
        "ENG",
        ["2026-12-24", "2026-12-31"],
    )

    bad = admin.post(
        reverse("sla:calendar_edit", args=[calendar.pk]),
        {"name": "London office", "timezone": "Europe/London", "day_0": "17:00-09:00"},
    )
    assert bad.status_code == 400
    assert "must be before end" in bad.content.decode()


def test_calendar_preview_says_when_a_lead_is_due(client_as):
    admin = client_as("admin")
    response = admin.get(
        reverse("sla:calendar_preview"),
        {
            "timezone": "UTC",
            **{f"day_{i}": "09:00-17:00" for i in range(5)},
            "arrival": "2026-03-07T10:00",  # a Saturday
            "hours": "4",
        },
        HTTP_HX_REQUEST="true",
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "is due at" in text
    assert "Monday 9 Mar 2026, 13:00" in text
    # Saturday 10:00 → Monday 13:00: said in words, not as a Python timedelta.
    assert "2 days 3 h of elapsed time" in text and "3:00:00" not in text


def test_calendar_preview_lists_public_holidays(client_as):
    admin = client_as("admin")
    response = admin.get(
        reverse("sla:calendar_preview"),
        {
            "timezone": "America/New_York",
            "holiday_country": "US",
            **{f"day_{i}": "09:00-17:00" for i in range(5)},
            "arrival": "2026-07-02T16:00",  # Thursday before Independence Day (observed Fri 3rd)
            "hours": "4",
        },
    )
    text = response.content.decode()
    assert "Independence Day" in text
    assert "Monday 6 Jul 2026, 12:00" in text


def test_the_admin_site_refuses_to_change_a_signed_version(acme, make_user):
    operator = make_user("admin", is_staff=True, is_superuser=True)
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(operator)
    version = f.signed_version(effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    commitment = version.commitments.first()

    response = client.post(
        reverse("admin:sla_slaversion_change", args=[version.pk]), {"purpose": "changed"}
    )
    assert response.status_code == 403
    response = client.post(
        reverse("admin:sla_commitment_change", args=[commitment.pk]), {"target": "0.1"}
    )
    assert response.status_code == 403
    response = client.post(
        reverse("admin:sla_commitment_delete", args=[commitment.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    version.refresh_from_db()
    commitment.refresh_from_db()
    assert version.purpose == ""
    assert commitment.target == f.FIRST_CONTACT_4H["target"]


def test_the_admin_site_logs_draft_edits(acme, make_user, definition):
    from apps.sla import services

    operator = make_user("admin", is_staff=True, is_superuser=True)
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(operator)
    version = services.version_create(actor=operator)
    url = reverse("admin:sla_slaversion_change", args=[version.pk])
    form = client.get(url)
    assert form.status_code == 200
    response = client.post(
        url,
        {
            "contract": version.contract_id,
            "number": version.number,
            "purpose": "Edited by an operator",
            "calendar": version.calendar_id,
            "mql_definition": version.mql_definition_id,
            "effective_at_0": "2026-01-01",
            "effective_at_1": "00:00:00",
            "review_date": "",
            "created_by": operator.pk,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
            **{
                f"{prefix}-{key}": value
                for prefix in ("commitments", "escalation_rules", "signatures")
                for key, value in (
                    ("TOTAL_FORMS", "0"),
                    ("INITIAL_FORMS", "0"),
                    ("MIN_NUM_FORMS", "0"),
                    ("MAX_NUM_FORMS", "1000"),
                )
            },
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    change = version.changes.filter(channel="admin").get()
    assert (change.action, change.author) == (ChangeAction.EDITED, operator)


def test_history_shows_dates_in_words_in_the_organizations_zone(client_as, definition):
    marketing = client_as("marketing_leader")
    old = f.signed_version(effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    draft = services.version_create(actor=marketing.user, from_version=old)
    services.version_update(
        version=draft,
        actor=marketing.user,
        effective_at=datetime(2026, 12, 10, tzinfo=UTC),
        review_date=date(2027, 1, 15),
    )
    html = marketing.get(reverse("sla:history"), {"a": old.pk, "b": draft.pk}).content.decode()
    assert "10 Dec 2026 00:00 UTC" in html and "15 Jan 2027" in html
    assert "2026-12-10T00:00:00+00:00" not in html


def test_a_label_spelling_out_the_hours_follows_them(client_as, definition):
    marketing = client_as("marketing_leader")
    draft = services.version_create(actor=marketing.user, template_key="high_intent_tier")
    tier = draft.commitments.get(label="High-intent leads within 2 business hours")
    services.commitment_update(
        commitment=tier, actor=marketing.user, params={"hours": 3, "clock": "business"}
    )
    tier.refresh_from_db()
    assert tier.label == "High-intent leads within 3 business hours"
    # A label the person writes anew is theirs.
    services.commitment_update(
        commitment=tier,
        actor=marketing.user,
        params={"hours": 4, "clock": "business"},
        label="Hot leads (2 business hours stretch goal)",
    )
    tier.refresh_from_db()
    assert tier.label == "Hot leads (2 business hours stretch goal)"


def test_a_review_date_before_the_effective_date_is_refused(client_as, definition):
    marketing = client_as("marketing_leader")
    draft = services.version_create(actor=marketing.user, template_key="sample_sla")
    response = marketing.post(
        reverse("sla:version_edit", args=[draft.pk]),
        {
            "purpose": "p",
            "calendar": draft.calendar_id,
            "mql_definition": draft.mql_definition_id or "",
            "effective_at": "2026-12-10T09:00",
            "review_date": "2026-12-09",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "The review date comes before the effective date" in response.content.decode()
    with pytest.raises(DomainError, match="review date comes before"):
        services.version_update(
            version=draft,
            actor=marketing.user,
            effective_at=datetime(2026, 12, 10, 9, tzinfo=UTC),
            review_date=date(2026, 12, 9),
        )
