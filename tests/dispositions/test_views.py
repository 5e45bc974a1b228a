"""The queue pages, inline touches and dispositions (htmx), reason-code settings, the feedback
page and the lead panel, through the browser client."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.dispositions import panels
from apps.dispositions.models import Disposition, Outcome, ReasonCode
from apps.handoff import channels
from apps.leads.models import Activity, Assignment, Stage
from tests.dispositions import factories as f

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rep_client(client_as):
    return client_as("rep")


@pytest.fixture
def code(acme):
    return f.reason_code("Chose a competitor (test)", Outcome.REJECTED)


@pytest.fixture
def clocked(acme):
    return f.sla_version(effective_at=timezone.now() - timedelta(days=30))


def _mql(owner, clocked=None, **kw):
    return f.mql_lead(
        owner=owner, mql_at=timezone.now() - timedelta(minutes=20), version=clocked, **kw
    )


def _triggers(response) -> set[str]:
    raw = response.headers.get("HX-Trigger", "")
    return set(json.loads(raw)) if raw.startswith("{") else {raw}


# --- the rep's queue ---------------------------------------------------------------


def test_my_queue_lists_only_my_open_mqls_with_their_countdown(rep_client, make_user, clocked):
    mine = _mql(rep_client.user, clocked, last_name="Mine")
    _mql(make_user("rep"), clocked, last_name="Theirs")
    response = rep_client.get(reverse("dispositions:my_queue"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lee Mine" in html and "Lee Theirs" not in html
    assert f'id="lead-{mine.pk}"' in html
    assert "data-countdown" in html and "On track" in html and "First contact" in html
    assert "0</strong> of 6" in html
    assert 'src="/static/dispositions/queue.js"' in html


def test_my_queue_is_empty_politely(rep_client):
    response = rep_client.get(reverse("dispositions:my_queue"))
    assert "you are all caught up" in response.content.decode()


def test_the_list_fragment_for_htmx_refreshes(rep_client, clocked):
    _mql(rep_client.user, clocked, last_name="Polled")
    response = rep_client.get(reverse("dispositions:my_queue"), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="queue-list"')
    assert "<html" not in html and "Lee Polled" in html
    # The minute refresh (skipped by queue.js while the rep is in a row's form or a row is
    # posting) carries no trigger filter: htmx would evaluate it, which the CSP forbids.
    assert 'hx-trigger="every 60s, queue-changed from:body"' in html


def test_the_queue_page_query_count_is_bounded(rep_client, clocked, django_assert_max_num_queries):
    for _ in range(3):
        _mql(rep_client.user, clocked)
    url = reverse("dispositions:my_queue")
    with django_assert_max_num_queries(40) as small:
        rep_client.get(url)
    for _ in range(25):
        _mql(rep_client.user, clocked)
    with django_assert_max_num_queries(40) as large:
        response = rep_client.get(url)
    assert response.content.decode().count('class="queue-row') == 28
    assert len(large) == len(small)


def test_logging_a_call_inline_updates_the_row_and_refreshes_the_list(rep_client, clocked):
    lead = _mql(rep_client.user, clocked)
    response = rep_client.post(
        reverse("dispositions:touch_create", args=[lead.pk]),
        {"kind": "call", "note": "Voicemail"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="lead-{lead.pk}"')
    assert "Call logged." in html
    assert "1</strong> of 6" in html
    assert "queue-changed" in _triggers(response)
    touch = Activity.objects.get(lead=lead)
    assert (touch.kind, touch.family, touch.actor, touch.note) == (
        "call",
        "sales_touch",
        rep_client.user,
        "Voicemail",
    )
    # The first-contact clock is met: the row now counts down to the disposition.
    assert "Disposition" in html


def test_rejecting_without_a_reason_is_refused_inline(rep_client):
    lead = _mql(rep_client.user)
    response = rep_client.post(
        reverse("dispositions:disposition_create", args=[lead.pk]),
        {"outcome": "rejected", "note": ""},
        **HTMX,
    )
    assert response.status_code == 422
    assert "Pick a reason code when rejecting." in response.content.decode()
    assert 'data-error-field="reason_code"' in response.content.decode()
    assert "HX-Trigger" not in response.headers
    assert not Disposition.objects.filter(lead=lead).exists()


def test_rejecting_with_a_reason_inline(rep_client, code):
    lead = _mql(rep_client.user)
    response = rep_client.post(
        reverse("dispositions:disposition_create", args=[lead.pk]),
        {"outcome": "rejected", "reason_code": code.pk, "note": "Signed with a rival last month"},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Rejected — Chose a competitor (test)." in response.content.decode()
    assert "queue-changed" in _triggers(response)
    lead.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED
    disposition = lead.dispositions.get()
    assert (disposition.reason_code, disposition.channel, disposition.actor) == (
        code,
        "web",
        rep_client.user,
    )


def test_without_htmx_the_forms_redirect_with_a_message(rep_client):
    lead = _mql(rep_client.user)
    response = rep_client.post(
        reverse("dispositions:disposition_create", args=[lead.pk]),
        {"outcome": "nurture"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("dispositions:my_queue")
    assert "Pick a reason code when returning it to nurture." in response.content.decode()


def test_a_rep_cannot_act_on_someone_elses_lead(rep_client, make_user, code):
    lead = _mql(make_user("rep"))
    touch = rep_client.post(
        reverse("dispositions:touch_create", args=[lead.pk]), {"kind": "call"}, **HTMX
    )
    dispose = rep_client.post(
        reverse("dispositions:disposition_create", args=[lead.pk]),
        {"outcome": "rejected", "reason_code": code.pk},
        **HTMX,
    )
    assert touch.status_code == dispose.status_code == 403
    assert not Activity.objects.filter(lead=lead).exists()
    assert not Disposition.objects.filter(lead=lead).exists()


def test_bulk_disposition_of_selected_leads(rep_client, make_user, code):
    mine = [_mql(rep_client.user) for _ in range(2)]
    theirs = _mql(make_user("rep"), last_name="Other")
    response = rep_client.post(
        reverse("dispositions:disposition_bulk"),
        {
            "leads": [mine[0].pk, mine[1].pk, theirs.pk],
            "outcome": "rejected",
            "reason_code": code.pk,
            "note": "List buy",
        },
        **HTMX,
    )
    html = response.content.decode()
    assert "2 leads updated." in html
    assert "You can only work leads you own." in html
    assert "queue-changed" in _triggers(response)
    assert Disposition.objects.filter(lead__in=mine, reason_code=code, note="List buy").count() == 2
    theirs.refresh_from_db()
    assert theirs.stage == Stage.MQL


def test_bulk_without_a_reason_saves_nothing(rep_client):
    lead = _mql(rep_client.user)
    response = rep_client.post(
        reverse("dispositions:disposition_bulk"),
        {"leads": [lead.pk], "outcome": "rejected"},
        **HTMX,
    )
    assert "Pick a reason code when rejecting." in response.content.decode()
    assert not Disposition.objects.exists()


# --- the team queue ------------------------------------------------------------------


def test_team_queue_shows_every_rep_with_loads_and_filters(client_as, make_user, clocked):
    leader = client_as("sales_leader")
    ann, bob = make_user("rep", name="Ann Rep"), make_user("rep", name="Bob Rep")
    _mql(ann, clocked, last_name="OfAnn")
    _mql(bob, clocked, last_name="OfBob")
    html = leader.get(reverse("dispositions:team_queue")).content.decode()
    assert "Lee OfAnn" in html and "Lee OfBob" in html
    assert "Load by rep" in html and "Ann Rep" in html
    filtered = leader.get(reverse("dispositions:team_queue"), {"rep": ann.pk}).content.decode()
    assert "Lee OfAnn" in filtered and "Lee OfBob" not in filtered


def test_a_sales_leader_reassigns_and_acts_on_the_team_leads(client_as, make_user, code):
    leader = client_as("sales_leader")
    ann, bob = make_user("rep"), make_user("rep")
    lead = _mql(ann)
    response = leader.post(
        reverse("dispositions:lead_reassign", args=[lead.pk]),
        {"owner": bob.pk, "view": "team"},
        **HTMX,
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.owner == bob
    assert Assignment.objects.filter(lead=lead, owner=bob, assigned_by=leader.user).exists()
    response = leader.post(
        reverse("dispositions:disposition_create", args=[lead.pk]),
        {"outcome": "rejected", "reason_code": code.pk, "view": "team"},
        **HTMX,
    )
    assert response.status_code == 200
    assert lead.dispositions.get().actor == leader.user


def test_reps_cannot_open_the_team_queue(rep_client):
    assert rep_client.get(reverse("dispositions:team_queue")).status_code == 403


# --- reason codes --------------------------------------------------------------------


def test_reason_codes_page_add_rename_move_retire_restore(client_as):
    leader = client_as("sales_leader")
    page = reverse("dispositions:reason_codes")
    assert "Not a decision-maker" in leader.get(page).content.decode()
    response = leader.post(page, {"label": "Wrong region", "outcome": "rejected"}, follow=True)
    assert "“Wrong region” added." in response.content.decode()
    code = ReasonCode.objects.get(label="Wrong region")
    duplicate = leader.post(page, {"label": "wrong region", "outcome": "rejected"})
    assert duplicate.status_code == 400 and "already exists" in duplicate.content.decode()

    renamed = leader.post(
        reverse("dispositions:reason_code_rename", args=[code.pk]),
        {"label": "Outside our regions"},
        **HTMX,
    )
    assert renamed.status_code == 200 and "Outside our regions" in renamed.content.decode()
    before = ReasonCode.objects.filter(outcome="rejected", retired_at__isnull=True).order_by(
        "position", "id"
    )
    assert list(before)[-1] == code
    leader.post(
        reverse("dispositions:reason_code_move", args=[code.pk]), {"direction": "up"}, **HTMX
    )
    after = list(
        ReasonCode.objects.filter(outcome="rejected", retired_at__isnull=True).order_by(
            "position", "id"
        )
    )
    assert after[-2] == code

    retired = leader.post(reverse("dispositions:reason_code_retire", args=[code.pk]), **HTMX)
    assert "Retired" in retired.content.decode()
    code.refresh_from_db()
    assert code.retired_at is not None
    leader.post(reverse("dispositions:reason_code_restore", args=[code.pk]), **HTMX)
    code.refresh_from_db()
    assert code.retired_at is None


def test_a_retired_code_is_not_offered_in_the_queue(rep_client, code, make_user):
    _mql(rep_client.user)
    code.retired_at = timezone.now()
    code.save()
    html = rep_client.get(reverse("dispositions:my_queue")).content.decode()
    assert "Chose a competitor (test)" not in html
    assert "Timeline too long" in html


# --- feedback page -------------------------------------------------------------------


@pytest.fixture
def rejected(acme, make_user, code):

    rep = make_user("rep", name="Riley Rep")
    lead = _mql(rep, source="content_syndication", campaign="Ebook Q4", last_name="Student")
    channels.disposition_create(
        lead=lead, outcome="rejected", reason_code=code, actor=rep, note="Went with Acme's rival"
    )
    later = f.reason_code("Timeline (test)", Outcome.NURTURE)
    back = _mql(
        rep,
        source="webinar",
        campaign="Q4 webinar",
        last_name="Nurtured",
        email="nurtured@prospect.test",
    )
    channels.disposition_create(
        lead=back, outcome="nurture", reason_code=later, actor=rep, note="Budget opens in Q2"
    )
    return lead


@pytest.mark.parametrize(
    "role", ["marketing_leader", "marketer", "executive", "sales_leader", "admin"]
)
def test_feedback_page_shows_this_weeks_reasons(client_as, rejected, role):
    html = client_as(role).get(reverse("dispositions:feedback")).content.decode()
    assert "Why MQLs were turned down" in html
    assert "Chose a competitor (test)" in html
    assert "content_syndication" in html and "Ebook Q4" in html
    assert "Returned to nurture" in html and "Budget opens in Q2" in html


def test_the_leads_behind_a_number_with_the_reps_note(client_as, rejected, code):
    reader = client_as("marketing_leader")
    response = reader.get(
        reverse("dispositions:feedback"),
        {"outcome": "rejected", "reason": code.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="behind",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="behind"')
    assert "Lee Student" in html and "Went with Acme&#x27;s rival" in html and "Riley Rep" in html


def test_feedback_of_another_period_is_empty(client_as, rejected):
    html = (
        client_as("marketer")
        .get(reverse("dispositions:feedback"), {"period": "month", "on": "2020-01-15"})
        .content.decode()
    )
    assert "January 2020" in html
    assert "No rejections or returns in this period." in html


def test_nurture_list_downloads_as_csv(client_as, rejected):
    response = client_as("marketer").get(reverse("dispositions:nurture_export"))
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    assert body.splitlines()[0].startswith("external_id,name,email")
    assert "nurtured@prospect.test" in body and "Budget opens in Q2" in body


@pytest.mark.parametrize("period", ["week", "month"])
@pytest.mark.parametrize(
    "role", ["marketing_leader", "marketer", "executive", "sales_leader", "admin"]
)
def test_feedback_with_dispositions_on_older_mqls_of_a_source_without_mqls_now(
    client_as, make_user, code, role, period
):
    """A source whose dispositions of the period answer MQLs of an earlier period has no cohort
    row: its MQL→SQL cell says "—" (it used to be a 500 for every role on the demo data)."""
    rep = make_user("rep")
    old = f.mql_lead(owner=rep, mql_at=timezone.now() - timedelta(days=100), source="trade_show")
    channels.disposition_create(lead=old, outcome="rejected", reason_code=code, actor=rep)
    response = client_as(role).get(reverse("dispositions:feedback"), {"period": period})
    assert response.status_code == 200
    row = response.content.decode().split("<td>trade_show</td>", 1)[1].split("</tr>", 1)[0]
    assert row.count("—") >= 1 and "%" not in row.rsplit("<td", 1)[1]


def test_reps_do_not_read_the_feedback_page(rep_client):
    assert rep_client.get(reverse("dispositions:feedback")).status_code == 403


# --- lead panel ----------------------------------------------------------------------


def test_lead_panel_offers_the_form_only_to_who_may_work_the_lead(acme, make_user, code):
    rep = make_user("rep")
    lead = _mql(rep)
    mine = panels.lead_panel(lead=lead, user=rep)
    assert mine["template"] == "dispositions/_lead_panel.html" and mine["context"]["may_work"]
    theirs = panels.lead_panel(lead=lead, user=make_user("marketer"))
    assert theirs["context"]["may_work"] is False and theirs["context"]["reason_codes"] == {}


def test_disposition_from_the_lead_panel(client_as, code):
    client = client_as("rep")
    lead = _mql(client.user)
    refused = client.post(
        reverse("dispositions:disposition_create", args=[lead.pk]),
        {"outcome": "rejected", "view": "panel"},
        **HTMX,
    )
    # 422: static/js/requests.js swaps a refused fragment in, so the panel says why.
    assert refused.status_code == 422 and "Pick a reason code" in refused.content.decode()
    response = client.post(
        reverse("dispositions:disposition_create", args=[lead.pk]),
        {"outcome": "rejected", "reason_code": code.pk, "note": "Competitor", "view": "panel"},
        **HTMX,
    )
    html = response.content.decode()
    assert html.lstrip().startswith(f'<div id="disposition-panel-{lead.pk}"')
    assert "Current state: <strong>Rejected</strong>" in html and "Competitor" in html


def test_the_lead_page_shows_the_sales_feedback_panel(client_as, code):
    client = client_as("rep")
    lead = _mql(client.user)
    client.post(
        reverse("dispositions:disposition_create", args=[lead.pk]),
        {"outcome": "rejected", "reason_code": code.pk, "note": "Went elsewhere"},
    )
    html = client.get(reverse("leads:lead_detail", kwargs={"pk": lead.pk})).content.decode()
    assert "Sales feedback" in html
    assert f'id="disposition-panel-{lead.pk}"' in html
    assert "Went elsewhere" in html


def test_nurture_export_never_writes_a_live_formula(client_as, rejected, make_user):
    rep = make_user("rep")
    lead = _mql(rep, campaign="@SUM(1)", last_name='=HYPERLINK("http://evil.test")')
    channels.disposition_create(
        lead=lead,
        outcome="nurture",
        reason_code=f.reason_code("Later (formula test)", Outcome.NURTURE),
        actor=rep,
        note="=cmd|' /C calc'!A0",
    )
    body = client_as("marketer").get(reverse("dispositions:nurture_export")).content.decode()
    row = next(r for r in csv.reader(io.StringIO(body)) if r[0] == lead.external_id)
    assert row[5] == "'@SUM(1)" and row[7] == "'=cmd|' /C calc'!A0"
