"""The queue (order, countdowns at given times, cadence, fit and why-MQL, bounded queries), the
team's load, and the marketing feedback aggregates."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.dispositions import selectors
from apps.dispositions.models import Outcome
from apps.handoff import channels
from apps.icp.models import IcpApproval, IcpRevision
from apps.leads.models import Stage
from apps.sla.models import ClockKind
from tests.dispositions import factories as f

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """London time in the week of Monday 2026-11-16."""
    return datetime(2026, 11, day, hour, minute, tzinfo=LONDON)


@pytest.fixture
def icp(acme):
    number = (
        IcpRevision.objects.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    revision = IcpRevision.objects.create(
        number=number,
        criteria={
            "employee_min": 100,
            "employee_max": 5000,
            "industries": ["software"],
            "regions": ["GB"],
        },
    )
    for role in ("marketing_leader", "sales_leader"):
        IcpApproval.objects.create(revision=revision, role=role)
    return revision


@pytest.fixture
def week(acme, make_user, icp):
    """A rep's queue on Friday 20 November, plus leads that must not show in it."""
    rep = make_user("rep", name="Riley Rep")
    version = f.sla_version(effective_at=at(1, 0))
    leads = {
        # First contact due Friday 11:00 (Thursday 15:00 + 4 business hours).
        "friday": f.mql_lead(owner=rep, mql_at=at(19, 15), version=version, last_name="Friday"),
        # Due Thursday 14:00: overdue on Friday.
        "thursday": f.mql_lead(owner=rep, mql_at=at(19, 10), version=version, last_name="Thursday"),
        # Contacted already: its next clock is the disposition (48 business hours).
        "contacted": f.mql_lead(
            owner=rep, mql_at=at(18, 16), version=version, last_name="Contacted"
        ),
        # No SLA in force for it: no clock, last in the queue.
        "unclocked": f.mql_lead(owner=rep, mql_at=at(17, 9), last_name="Unclocked"),
    }
    contacted = leads["contacted"]
    contacted.sla_clocks.filter(kind=ClockKind.FIRST_CONTACT).update(
        met_at=at(18, 16, 30), state="met"
    )
    f.mql_lead(
        owner=make_user("rep"), mql_at=at(19, 9), version=version, last_name="Someone else's"
    )
    sql = f.mql_lead(owner=rep, mql_at=at(19, 9), version=version, last_name="Already SQL")
    sql.stage = Stage.SQL
    sql.save(update_fields=["stage"])
    friday = leads["friday"]
    f.touch(friday, kind="email_sent", at=at(19, 14), actor=rep)  # before the MQL: not counted
    f.touch(friday, kind="call", at=at(19, 15, 30), actor=rep)
    f.touch(friday, kind="email_sent", at=at(19, 16), actor=rep)
    f.engagement(friday, kind="page_view", at=at(20, 8))
    return rep, leads


def _row(rows, lead):
    return next(row for row in rows if row.lead.pk == lead.pk)


def test_queue_shows_own_open_mqls_nearest_deadline_first(week):
    rep, _leads = week
    queue = list(selectors.queue_leads(owner=rep))
    assert [lead.last_name for lead in queue] == ["Thursday", "Friday", "Contacted", "Unclocked"]


def test_countdown_states_at_given_times(week):
    rep, leads = week
    queue = list(selectors.queue_leads(owner=rep))

    rows = selectors.queue_rows(leads=queue, now=at(20, 10, 30))
    friday = _row(rows, leads["friday"]).next_clock
    assert friday.clock.kind == ClockKind.FIRST_CONTACT
    assert (friday.countdown.state, friday.countdown.label) == ("yellow", "30m left")
    thursday = _row(rows, leads["thursday"]).next_clock
    assert (thursday.countdown.state, thursday.countdown.label) == ("red", "overdue by 4h 30m")
    contacted = _row(rows, leads["contacted"]).next_clock
    assert contacted.clock.kind == ClockKind.DISPOSITION
    assert contacted.countdown.state == "green"
    assert _row(rows, leads["unclocked"]).next_clock is None

    # Thursday evening: the Friday lead still has 2 of its 4 hours, and is green.
    rows = selectors.queue_rows(leads=queue, now=at(19, 18))
    friday = _row(rows, leads["friday"]).next_clock
    assert (friday.countdown.state, friday.countdown.label) == ("green", "2h 00m left")
    assert friday.countdown.is_ticking is False


def test_rows_carry_cadence_fit_why_and_recent_activity(week):
    rep, leads = week
    rows = selectors.queue_rows(leads=list(selectors.queue_leads(owner=rep)), now=at(20, 10))
    friday = _row(rows, leads["friday"])
    assert (friday.touches, friday.cadence_touches) == (2, 6)
    assert [a.kind for a in friday.last_activities] == ["page_view", "email_sent", "call"]
    assert friday.fit.grade == "A"
    assert "Company size between 100 and 5,000" in friday.why_reasons
    assert friday.definition_label.startswith("v")
    unclocked = _row(rows, leads["unclocked"])
    assert (unclocked.touches, unclocked.cadence_touches) == (0, None)


def test_the_queue_costs_the_same_queries_whatever_its_size(week, django_assert_max_num_queries):
    rep, leads = week
    version = leads["friday"].sla_clocks.first().sla_version

    def load():
        rows = selectors.queue_rows(leads=list(selectors.queue_leads(owner=rep)), now=at(20, 10))
        return len(rows)

    # Five queries (leads, clocks, ICP, MQL events, recent activities), each preceded by
    # django-tenants' SET search_path.
    with django_assert_max_num_queries(10) as small:
        assert load() == 4
    for n in range(30):
        lead = f.mql_lead(owner=rep, mql_at=at(16, 9) + timedelta(minutes=n), version=version)
        f.touch(lead, at=at(16, 12), actor=rep)
    with django_assert_max_num_queries(10) as large:
        assert load() == 34
    assert len(large) == len(small)


def test_team_loads_count_open_due_soon_and_overdue(week, make_user):
    _rep, _leads = week
    loads = {load.name: load for load in selectors.team_loads(now=at(20, 10, 30))}
    riley = loads["Riley Rep"]
    assert (riley.open, riley.due_soon, riley.overdue) == (4, 1, 1)


def test_team_queue_filters_by_rep_and_unassigned(week):
    rep, leads = week
    unowned = f.mql_lead(owner=None, mql_at=at(19, 9))
    everyone = list(selectors.queue_leads())
    assert {lead.pk for lead in leads.values()} <= {lead.pk for lead in everyone}
    assert unowned in everyone
    assert list(selectors.queue_leads(unassigned=True)) == [unowned]
    assert set(selectors.queue_leads(rep_id=rep.pk)) == set(leads.values())


# --- feedback --------------------------------------------------------------------------


@pytest.fixture
def feedback(acme, make_user):
    rep = make_user("rep")
    now = timezone.now()
    no_dm = f.reason_code("No DM", Outcome.REJECTED)
    budget = f.reason_code("No budget", Outcome.REJECTED)
    later = f.reason_code("Later", Outcome.NURTURE)
    v1, v2 = f.mql_definition(), f.mql_definition()

    def give(source, campaign, outcome, code=None, definition=v2, note="", hours=5):
        lead = f.mql_lead(
            owner=rep,
            mql_at=now - timedelta(hours=hours + 1),
            source=source,
            campaign=campaign,
            definition=definition,
        )
        channels.disposition_create(
            lead=lead,
            outcome=outcome,
            reason_code=code,
            actor=rep,
            note=note,
            occurred_at=now - timedelta(hours=hours),
        )
        return lead

    give("content_syndication", "Ebook", Outcome.REJECTED, no_dm, note="Student, not a buyer")
    give("content_syndication", "Ebook", Outcome.REJECTED, no_dm, definition=v1)
    give("content_syndication", "Ebook", Outcome.REJECTED, budget)
    give("paid_search", "Brand", Outcome.REJECTED, no_dm)
    give("paid_search", "Brand", Outcome.ACCEPTED)
    give("paid_search", "Generic", Outcome.ACCEPTED)
    returned = give("webinar", "Q4 webinar", Outcome.NURTURE, later, note="Budget opens in Q2")
    give("webinar", "Q4 webinar", Outcome.WORKING)
    give("webinar", "Old", Outcome.REJECTED, no_dm, hours=24 * 10)  # outside the period
    return {
        "start": now - timedelta(days=7),
        "end": now,
        "codes": (no_dm, budget, later),
        "versions": (v1, v2),
        "returned": returned,
    }


def test_feedback_counts_by_outcome_and_reason_pareto(feedback):
    report = selectors.feedback_report(start=feedback["start"], end=feedback["end"])
    assert report.totals == {"total": 8, "accepted": 2, "rejected": 4, "nurture": 1, "working": 1}
    reasons = [(row["reason_code__label"], row["n"]) for row in report.by_reason]
    assert reasons == [("No DM", 3), ("Later", 1), ("No budget", 1)]
    assert report.by_reason[-1]["cumulative"] == 1
    assert report.by_reason[0]["share"] == pytest.approx(0.6)


def test_feedback_by_source_campaign_and_definition_version(feedback):
    report = selectors.feedback_report(start=feedback["start"], end=feedback["end"])
    sources = {row["key"]: row for row in report.by_source}
    syndication = sources["content_syndication"]
    assert (syndication["rejected"], syndication["accepted"], syndication["acceptance"]) == (
        3,
        0,
        0,
    )
    assert syndication["top_reason"] == ("No DM", 2)
    assert sources["paid_search"]["acceptance"] == pytest.approx(2 / 3)
    campaigns = {row["key"]: row["total"] for row in report.by_campaign}
    assert campaigns == {"Ebook": 3, "Brand": 2, "Generic": 1, "Q4 webinar": 2}
    v1, v2 = feedback["versions"]
    versions = {row["version"]: row["rejected"] for row in report.by_version}
    assert versions == {v1.version: 1, v2.version: 3}


def test_feedback_mql_to_sql_by_source(feedback):
    report = selectors.feedback_report(start=feedback["start"], end=feedback["end"])
    by_source = {row["key"]: (row["mqls"], row["sqls"]) for row in report.mql_to_sql_by_source}
    assert by_source["paid_search"] == (3, 2)
    assert by_source["content_syndication"] == (3, 0)
    assert report.cohort["mqls"] == 8 and report.cohort["sqls"] == 2


def test_leads_behind_a_number_carry_the_notes(feedback):
    no_dm = feedback["codes"][0]
    behind = selectors.feedback_dispositions(
        start=feedback["start"],
        end=feedback["end"],
        filters=selectors.FeedbackFilter(
            outcome="rejected", reason_code_id=no_dm.pk, source="content_syndication"
        ),
    )
    assert behind.count() == 2
    assert "Student, not a buyer" in {d.note for d in behind}


def test_returned_to_nurture_lists_leads_still_in_nurture(feedback, make_user):
    returned = list(selectors.nurture_returned(start=feedback["start"], end=feedback["end"]))
    assert [d.lead for d in returned] == [feedback["returned"]]
    # Once sales takes it back, it leaves marketing's list.
    lead = feedback["returned"]
    channels.disposition_create(lead=lead, outcome=Outcome.ACCEPTED, actor=lead.owner)
    assert not selectors.nurture_returned(
        start=feedback["start"], end=feedback["end"] + timedelta(hours=1)
    ).exists()
