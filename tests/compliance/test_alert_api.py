"""Alerts, notifications and escalations by API: lists with filters, mark read (one, all), the
escalation history of a commitment (sent and found in back-filled history), roles, tenancy.

The alerts are raised by the sweep's own services at pinned moments, then the in-app channel
is delivered, so every row is one the product would have written."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tenants.utils import schema_context

from apps.compliance import services
from apps.compliance.models import Alert, Notification
from apps.compliance.outbox import in_app_deliver
from tests.compliance import factories as f

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
ALERTS = reverse("api:compliance:alert_list")
NOTIFICATIONS = reverse("api:compliance:notification_list")
READ_ALL = reverse("api:compliance:notification_read_all")


def escalations_url(commitment_id: int) -> str:
    return reverse("api:compliance:commitment_escalations", kwargs={"commitment_id": commitment_id})


@pytest.fixture
def world(acme, api_as, make_user):
    """A breach on Jane's lead (to her rep and the sales leader), an escalation episode in the
    last two closed weeks (to the executive) and one found in back-filled history (nobody)."""
    rep_api, leader_api, executive_api = api_as("rep"), api_as("sales_leader"), api_as("executive")
    draft = f.draft_version(effective_at=MONDAY - timedelta(days=200))
    commitment = draft.commitments.get()
    rule = f.escalation_rule(commitment=commitment, threshold=0.8, periods=2)
    f.sign(draft)
    lead = f.lead(owner=rep_api.user, first_name="Jane", last_name="Doe", company="Initech")
    clock = f.clock(event=f.mql_event(lead=lead, at=MONDAY), commitment=commitment)
    services.clocks_breach(now=MONDAY + timedelta(hours=5))
    # Weeks of 12 Jan … 23 Feb: a low run in January (history) and one ending 23 Feb (live).
    f.frozen_weeks(commitment, [0.9, 0.7, 0.7, 0.9, 0.9, 0.6, 0.5], first=date(2026, 1, 12))
    report = services.escalations_evaluate(now=MONDAY)
    assert (report["alerts"], report["backfilled"]) == (1, 1)
    in_app_deliver(now=MONDAY + timedelta(hours=5))
    alerts = {
        "breach": Alert.objects.get(kind="breach"),
        "live": Alert.objects.get(kind="escalation", found_in_backfill=False),
        "history": Alert.objects.get(kind="escalation", found_in_backfill=True),
    }
    return {
        "rep": rep_api,
        "leader": leader_api,
        "executive": executive_api,
        "commitment": commitment,
        "rule": rule,
        "lead": lead,
        "clock": clock,
        "alerts": alerts,
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- alerts -----------------------------------------------------------------------------


def test_alerts_come_with_what_they_say_and_who_heard(world):
    body = world["leader"].get(ALERTS).json()
    assert body["count"] == 3
    by_id = {row["id"]: row for row in body["results"]}

    breach = by_id[world["alerts"]["breach"].pk]
    assert breach["kind"] == "breach" and breach["found_in_backfill"] is False
    assert breach["lead"]["external_id"] == world["lead"].external_id
    assert breach["clock"]["id"] == world["clock"].pk
    assert breach["commitment"]["id"] == world["commitment"].pk
    assert "Jane Doe (Initech)" in breach["title"]
    assert breach["url"].endswith(f"/leads/{world['lead'].pk}/")
    channels = {(d["recipient"], d["channel"], d["status"]) for d in breach["deliveries"]}
    for person in (world["rep"].user, world["leader"].user):
        assert (person.email, "in_app", "delivered") in channels
        assert (person.email, "email", "pending") in channels
    assert {r["recipient"] for r in breach["read_by"]} == {
        world["rep"].user.email,
        world["leader"].user.email,
    }

    live = by_id[world["alerts"]["live"].pk]
    assert live["escalation_rule"]["id"] == world["rule"].pk
    assert live["period"] == {
        "kind": "week",
        "start": "2026-02-23",
        "label": live["period"]["label"],
    }
    assert {d["recipient"] for d in live["deliveries"]} == {world["executive"].user.email}
    assert live["title"].startswith("Escalation:")

    history = by_id[world["alerts"]["history"].pk]
    assert history["found_in_backfill"] is True
    assert history["period"]["start"] == "2026-01-26"
    assert history["deliveries"] == [] and history["read_by"] == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "escalation"}, {"live", "history"}),
        ({"kind": "breach"}, {"breach"}),
        ({"found_in_backfill": "true"}, {"history"}),
        ({"found_in_backfill": "false"}, {"breach", "live"}),
        ({"period": "week", "start": "2026-01-26"}, {"history"}),
        ({"period": "week", "start": "2026-03-02"}, {"breach"}),  # the clock fell due that week
        ({"period": "month", "start": "2026-02-01"}, set()),  # escalations are weekly here
        ({"created_from": "2026-03-02T12:00:00Z"}, {"breach"}),
        ({"created_to": "2026-03-02T12:00:00Z"}, {"live", "history"}),
    ],
)
def test_alert_filters(world, query, expected):
    wanted = {world["alerts"][name].pk for name in expected}
    assert set(ids(world["leader"].get(ALERTS, query))) == wanted


def test_alert_filters_by_lead_commitment_and_person(world):
    leader = world["leader"]
    alerts = world["alerts"]
    assert ids(leader.get(ALERTS, {"lead": world["lead"].pk})) == [alerts["breach"].pk]
    assert len(ids(leader.get(ALERTS, {"commitment": world["commitment"].pk}))) == 3
    assert ids(leader.get(ALERTS, {"commitment": 987654})) == []
    rep = world["rep"].user
    assert ids(leader.get(ALERTS, {"person": rep.email})) == [alerts["breach"].pk]
    assert ids(leader.get(ALERTS, {"person": str(world["executive"].user.pk)})) == [
        alerts["live"].pk
    ]


def test_alerts_read_or_unread_by_a_person(world):
    leader, rep = world["leader"], world["rep"]
    breach = world["alerts"]["breach"].pk
    assert ids(leader.get(ALERTS, {"person": rep.user.email, "read": "false"})) == [breach]
    assert ids(leader.get(ALERTS, {"person": rep.user.email, "read": "true"})) == []
    notification = Notification.objects.get(recipient=rep.user)
    rep.post(reverse("api:compliance:notification_read", kwargs={"pk": notification.pk}))
    assert ids(leader.get(ALERTS, {"person": rep.user.email, "read": "true"})) == [breach]
    assert ids(leader.get(ALERTS, {"person": rep.user.email, "read": "false"})) == []
    # Without `person`, "read" is about the caller (the leader has not read theirs).
    assert ids(leader.get(ALERTS, {"read": "false"})) == [breach]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "fire"}, "kind"),
        ({"period": "week"}, "start"),
        ({"start": "2026-03-02"}, "period"),
        ({"period": "week", "start": "2026-03-03"}, "start"),  # not a Monday
        ({"period": "fortnight", "start": "2026-03-02"}, "period"),
        ({"person": "nobody@acme.test"}, "person"),
        ({"commitment": "first"}, "commitment"),
        ({"read": "maybe"}, "read"),
        ({"created_from": "last week"}, "created_from"),
    ],
)
def test_alert_filter_errors_name_the_parameter(world, query, field):
    response = world["leader"].get(ALERTS, query)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_an_api_key_must_say_whose_read_state(world, api_as):
    integration = api_as("integration")
    assert len(ids(integration.get(ALERTS))) == 3
    response = integration.get(ALERTS, {"read": "false"})
    assert response.status_code == 400 and "person" in response.json()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", True),
        ("executive", True),
        ("marketing_leader", True),
        ("sales_leader", True),
        ("integration", True),
        ("marketer", False),
        ("rep", False),
    ],
)
def test_who_reads_the_organizations_alerts(world, api_as, role, allowed):
    api = api_as(role)
    detail = reverse("api:compliance:alert_detail", kwargs={"pk": world["alerts"]["breach"].pk})
    assert api.get(ALERTS).status_code == (200 if allowed else 403)
    assert api.get(detail).status_code == (200 if allowed else 403)


def test_alert_detail(world):
    breach = world["alerts"]["breach"]
    url = reverse("api:compliance:alert_detail", kwargs={"pk": breach.pk})
    body = world["executive"].get(url).json()
    assert body["id"] == breach.pk and body["kind"] == "breach"
    missing = reverse("api:compliance:alert_detail", kwargs={"pk": 987654})
    assert world["executive"].get(missing).status_code == 404


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return sum(1 for q in queries.captured_queries if not q["sql"].startswith("SET "))


def test_the_alert_list_costs_the_same_queries_for_more_alerts(world):
    leader = world["leader"]
    leader.get(ALERTS)  # the token's "last used" stamp is written once a minute
    few = _queries(leader, ALERTS)
    # Six more episodes in history, each with its rule, period and commitment.
    f.frozen_weeks(world["commitment"], [0.5, 0.5, 0.9] * 6, first=date(2025, 6, 2))
    services.escalations_evaluate(now=MONDAY)
    assert Alert.objects.count() == 9
    assert _queries(leader, ALERTS) == few <= 6


# --- notifications ------------------------------------------------------------------------


def test_people_read_their_own_notifications(world):
    rep = world["rep"]
    body = rep.get(NOTIFICATIONS).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["kind"] == "breach" and row["is_read"] is False and row["read_at"] is None
    assert row["alert"] == world["alerts"]["breach"].pk and row["lead"] == world["lead"].pk
    assert row["commitment"] == world["commitment"].pk and row["period"] is None
    assert "Jane Doe" in row["title"] and row["url"].startswith("http://acme.localhost")

    executive = world["executive"].get(NOTIFICATIONS).json()
    assert [r["alert"] for r in executive["results"]] == [world["alerts"]["live"].pk]
    assert executive["results"][0]["period"]["start"] == "2026-02-23"


def test_notification_filters(world):
    leader = world["leader"]
    assert leader.get(NOTIFICATIONS, {"kind": "breach"}).json()["count"] == 1
    assert leader.get(NOTIFICATIONS, {"kind": "escalation"}).json()["count"] == 0
    assert leader.get(NOTIFICATIONS, {"read": "false"}).json()["count"] == 1
    assert leader.get(NOTIFICATIONS, {"read": "true"}).json()["count"] == 0
    assert leader.get(NOTIFICATIONS, {"period": "week", "start": "2026-03-02"}).json()["count"] == 1
    assert leader.get(NOTIFICATIONS, {"lead": world["lead"].pk}).json()["count"] == 1
    assert leader.get(NOTIFICATIONS, {"commitment": 987654}).json()["count"] == 0
    bad = leader.get(NOTIFICATIONS, {"period": "week", "start": "2026-03-04"})
    assert bad.status_code == 400 and "start" in bad.json()


def test_mark_one_read_then_all(world):
    leader = world["leader"]
    mine = Notification.objects.get(recipient=leader.user)
    url = reverse("api:compliance:notification_read", kwargs={"pk": mine.pk})
    first = leader.post(url)
    assert first.status_code == 200 and first.json()["is_read"] is True
    read_at = first.json()["read_at"]
    assert leader.post(url).json()["read_at"] == read_at  # idempotent

    theirs = Notification.objects.get(recipient=world["rep"].user)
    other = reverse("api:compliance:notification_read", kwargs={"pk": theirs.pk})
    assert leader.post(other).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None

    rep = world["rep"]
    done = rep.post(READ_ALL)
    assert done.status_code == 200 and done.json() == {"marked_read": 1, "unread": 0}
    assert rep.post(READ_ALL).json() == {"marked_read": 0, "unread": 0}
    assert rep.get(NOTIFICATIONS, {"read": "false"}).json()["count"] == 0


def test_notifications_are_for_people_not_api_keys(world, api_as):
    integration = api_as("integration")
    assert integration.get(NOTIFICATIONS).status_code == 403
    assert integration.post(READ_ALL).status_code == 403
    for role in ("marketer", "rep", "admin"):
        assert api_as(role).get(NOTIFICATIONS).status_code == 200


# --- escalation history of a commitment ----------------------------------------------------


def test_escalation_history_of_a_commitment(world):
    body = world["executive"].get(escalations_url(world["commitment"].pk)).json()
    assert body["count"] == 2
    live, history = body["results"]  # newest period first
    assert live["period"]["start"] == "2026-02-23" and live["found_in_backfill"] is False
    assert live["value"] == 0.5 and live["values"] == [0.6, 0.5]
    assert [n["recipient"] for n in live["notified"] if n["channel"] == "in_app"] == [
        world["executive"].user.email
    ]
    assert live["escalation_rule"]["threshold"] == 0.8
    assert live["escalation_rule"]["notify_role"] == "executive"
    assert history["period"]["start"] == "2026-01-26" and history["found_in_backfill"] is True
    assert history["values"] == [0.7, 0.7] and history["notified"] == []


def test_escalation_history_filters(world):
    url = escalations_url(world["commitment"].pk)
    api = world["leader"]
    backfilled = api.get(url, {"found_in_backfill": "true"}).json()["results"]
    assert [e["period"]["start"] for e in backfilled] == ["2026-01-26"]
    since = api.get(url, {"since": "2026-02-01"}).json()["results"]
    assert [e["period"]["start"] for e in since] == ["2026-02-23"]
    bad = api.get(url, {"since": "soon"})
    assert bad.status_code == 400 and "since" in bad.json()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("executive", 200),
        ("sales_leader", 200),
        ("marketing_leader", 200),
        ("integration", 200),
        ("marketer", 404),  # a sales commitment is not in a marketer's view
        ("rep", 403),
    ],
)
def test_who_reads_escalation_history(world, api_as, role, status):
    assert api_as(role).get(escalations_url(world["commitment"].pk)).status_code == status


def test_escalation_history_of_an_unknown_commitment_is_404(world):
    assert world["leader"].get(escalations_url(987654)).status_code == 404


# --- tenancy -------------------------------------------------------------------------------


def test_another_organizations_alerts_and_notifications_stay_there(world, globex):
    with schema_context(globex.schema_name):
        version = f.signed_version(effective_at=MONDAY - timedelta(days=30))
        theirs = Alert.objects.create(
            kind="commitment_red",
            commitment=version.commitments.get(),
            period_kind="week",
            period_start=date(2026, 2, 23),
            payload={"commitment": "Globex secret"},
        )
    leader = world["leader"]
    assert "Globex secret" not in leader.get(ALERTS, {"kind": "commitment_red"}).content.decode()
    seen = leader.get(reverse("api:compliance:alert_detail", kwargs={"pk": theirs.pk}))
    assert seen.status_code == 404 or "Globex secret" not in seen.content.decode()
    read = leader.post(reverse("api:compliance:notification_read", kwargs={"pk": theirs.pk}))
    assert read.status_code == 404 or read.json()["alert"] != theirs.pk
