"""The demo seed tells its story through the real write paths (on a small set of MQLs)."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.dispositions import demo
from apps.dispositions.models import Disposition, Outcome
from apps.dispositions.selectors import clock_countdown
from apps.leads.models import Activity, Lead, Stage
from apps.sla.models import ClockKind, SlaClock
from tests.dispositions import factories as f

pytestmark = pytest.mark.django_db


def test_demo_touches_and_dispositions(acme, make_user):
    now = timezone.now()
    version = f.sla_version(effective_at=now - timedelta(days=200))
    reps = [make_user("rep") for _ in range(2)]
    sources = ["content_syndication", "paid_search", "referral", "webinar", "events"]
    leads = [
        f.mql_lead(
            owner=reps[n % 2],
            mql_at=now - timedelta(days=60 - n, hours=n % 5),
            version=version,
            source=sources[n % len(sources)],
        )
        for n in range(40)
    ]
    demo.seed(now=now, rng=random.Random(7))

    touches = Activity.objects.filter(family="sales_touch", lead__in=leads)
    assert touches.count() > 40
    assert set(touches.values_list("actor", flat=True)) <= {rep.pk for rep in reps}
    dispositions = Disposition.objects.filter(lead__in=leads)
    assert dispositions.filter(outcome=Outcome.REJECTED).exists()
    assert not dispositions.filter(
        outcome__in=["rejected", "nurture"], reason_code__isnull=True
    ).exists()
    assert all(d.note for d in dispositions.filter(outcome=Outcome.REJECTED))
    # The newest MQLs of each rep stay open with their clocks running.
    for rep in reps:
        newest = max((lead for lead in leads if lead.owner == rep), key=lambda lead: lead.mql_at)
        newest.refresh_from_db()
        assert newest.stage == Stage.MQL
        assert newest.sla_clocks.filter(kind=ClockKind.DISPOSITION, met_at__isnull=True).exists()
    # Facts closed clocks: most first contacts are met.
    met = sum(
        1
        for lead in leads
        if lead.sla_clocks.filter(kind=ClockKind.FIRST_CONTACT, met_at__isnull=False).exists()
    )
    assert met > len(leads) // 2
    # Seeding twice changes nothing.
    count = Disposition.objects.count()
    demo.seed(now=now, rng=random.Random(7))
    assert Disposition.objects.count() == count


def test_the_demo_queue_is_a_mix_of_running_and_overdue_clocks(acme, make_user):
    """A first look at the queue shows what the colours mean: the fresh MQLs' clocks are
    still running (green or yellow), the odd one is overdue; older MQLs were worked off."""
    now = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # a Wednesday afternoon in London, passed in
    version = f.sla_version(effective_at=now - timedelta(days=200))
    reps = [make_user("rep") for _ in range(3)]
    leads = [
        f.mql_lead(owner=reps[n % 3], mql_at=now - timedelta(hours=7 * n + 1), version=version)
        for n in range(36)  # one every 7 hours over the last ten and a half days
    ]
    demo.seed(now=now, rng=random.Random(7))

    open_ids = set(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads], stage=Stage.MQL).values_list(
            "pk", flat=True
        )
    )
    states = []
    for lead_id in open_ids:
        nearest = (
            SlaClock.objects.filter(lead_id=lead_id, met_at__isnull=True)
            .select_related("commitment", "sla_version")
            .order_by("due_at")
            .first()
        )
        if nearest is not None:
            states.append(clock_countdown(nearest, now=now).state)
    assert len(open_ids) <= 12, "older MQLs are settled, the queue stays short"
    assert {"green", "yellow"} & set(states), states
    assert states.count("red") < len(states), states
