"""Escalation episodes in back-filled history: recorded (scorecard, API), nobody notified; live
episodes are sent as before. Built from real clocks and touches, with the snapshots computed as
the back-fill command computes them."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from apps.compliance import demo, services
from apps.compliance.models import Alert, AlertDelivery, Notification
from apps.compliance.outbox import in_app_deliver
from tests.compliance import factories as f

pytestmark = pytest.mark.django_db

# Two weeks of history imported long after they ended: first contact 2 of 5 in time (40 %).
FIRST_WEEK = datetime(2026, 3, 2, tzinfo=UTC)
SECOND_WEEK = FIRST_WEEK + timedelta(weeks=1)
MUCH_LATER = datetime(2026, 6, 1, 9, tzinfo=UTC)  # twelve weeks after the second one ended
RIGHT_AFTER = SECOND_WEEK + timedelta(weeks=1, hours=1)  # the Monday after the second week


@pytest.fixture
def escalating(acme, make_user):
    """A signed SLA (first contact within 4 business hours, target 80 %) with the rule of the
    domain articles: below 80 % for 2 consecutive weeks -> the executive."""
    executive = make_user("executive")
    draft = f.draft_version(effective_at=FIRST_WEEK - timedelta(days=60))
    commitment = draft.commitments.get()
    rule = f.escalation_rule(commitment=commitment, threshold=0.8, periods=2)
    f.sign(draft)
    rep = make_user("rep")
    for week in (FIRST_WEEK, SECOND_WEEK):
        for n in range(5):
            mql_at = week + timedelta(hours=10 + n)  # Monday 10:00 … 14:00
            lead = f.lead(owner=rep)
            f.clock(event=f.mql_event(lead=lead, at=mql_at), commitment=commitment)
            # Two called within the hour; three only the next day (late).
            late = n >= 2
            f.touch(lead=lead, at=mql_at + timedelta(days=1 if late else 0, minutes=30), actor=rep)
    return commitment, rule, executive


def _backfill_snapshots(now):
    """What `manage.py recompute_snapshots --from … --to …` does after an import."""
    services.snapshots_recompute(
        first_day=FIRST_WEEK.date(), last_day=(SECOND_WEEK + timedelta(days=6)).date(), now=now
    )


def test_an_episode_found_in_backfilled_history_is_recorded_without_notifying(escalating):
    commitment, rule, executive = escalating
    _backfill_snapshots(MUCH_LATER)

    report = services.escalations_evaluate(now=MUCH_LATER)

    assert (report["alerts"], report["deliveries"], report["backfilled"]) == (0, 0, 1)
    episode = Alert.objects.get(kind="escalation")
    assert episode.found_in_backfill is True
    assert (episode.commitment, episode.escalation_rule) == (commitment, rule)
    assert episode.period_start == date(2026, 3, 9)  # the second low week: where it fired
    assert episode.payload["values"] == [pytest.approx(0.4), pytest.approx(0.4)]
    assert not AlertDelivery.objects.filter(alert=episode).exists()
    in_app_deliver(now=MUCH_LATER)
    assert not Notification.objects.filter(recipient=executive).exists()

    # Recorded once: the next sweeps find the same episode and add nothing.
    again = services.escalations_evaluate(now=MUCH_LATER + timedelta(minutes=1))
    assert again["backfilled"] == 0
    assert Alert.objects.filter(kind="escalation").count() == 1


def test_the_same_episode_in_the_last_closed_weeks_is_sent_as_before(escalating):
    _, _, executive = escalating
    _backfill_snapshots(RIGHT_AFTER)

    report = services.escalations_evaluate(now=RIGHT_AFTER)

    assert (report["alerts"], report["backfilled"]) == (1, 0)
    episode = Alert.objects.get(kind="escalation")
    assert episode.found_in_backfill is False
    assert set(episode.deliveries.values_list("recipient_id", "channel")) == {
        (executive.pk, "email"),
        (executive.pk, "in_app"),
    }
    in_app_deliver(now=RIGHT_AFTER)
    assert Notification.objects.filter(recipient=executive, alert=episode).exists()
    # Later sweeps neither send it again nor re-record it as history.
    later = services.escalations_evaluate(now=MUCH_LATER)
    assert (later["alerts"], later["backfilled"]) == (0, 0)
    assert Alert.objects.filter(kind="escalation").count() == 1


def test_only_low_runs_of_k_weeks_are_history(escalating):
    commitment, _, _ = escalating
    # One low week alone, a grey week, then a run of two: one episode, found in back-fill.
    f.frozen_weeks(commitment, [0.5, None, 0.6, 0.7, 0.9], first=date(2026, 1, 5))
    report = services.escalations_evaluate(now=datetime(2026, 5, 4, 9, tzinfo=UTC))
    assert report["backfilled"] == 1
    assert Alert.objects.get(kind="escalation").period_start == date(2026, 1, 26)


def test_the_sweep_reports_what_it_recorded(escalating):
    _backfill_snapshots(MUCH_LATER)
    run = services.tenant_sweep(worker="test", now=MUCH_LATER)
    assert run.stats["escalations"]["backfilled"] == 1
    assert run.stats["escalations"]["alerts"] == 0


def test_the_demo_shows_an_old_episode_of_its_history_without_paging_anyone(acme, make_user):
    """The demo seed computes 90 days of snapshots, then sweeps once: a long red run at the
    start of the history is an episode found in back-fill."""
    now = timezone.now()
    draft = f.draft_version(effective_at=now - timedelta(days=120))
    commitment = draft.commitments.get()
    f.escalation_rule(commitment=commitment, threshold=0.8, periods=2)
    f.sign(draft)
    executive, rep = make_user("executive"), make_user("rep")
    for days in range(4, 90, 2):  # every MQL called three days later: far too late
        lead = f.lead(owner=rep)
        event = f.mql_event(lead=lead, at=now - timedelta(days=days, hours=2))
        f.clock(event=event, commitment=commitment)
        f.touch(lead=lead, at=event.qualified_at + timedelta(days=3), actor=rep)

    demo.seed(now=now, rng=random.Random(7))

    episode = Alert.objects.get(kind="escalation")
    assert episode.found_in_backfill is True
    assert episode.period_start < (now - timedelta(weeks=8)).date()
    assert not Notification.objects.filter(recipient=executive).exists()
