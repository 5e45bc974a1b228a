"""The demo seed tells its story through the real write paths (on a small set of MQLs)."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.dispositions import demo
from apps.dispositions.models import Disposition, Outcome
from apps.leads.models import Activity, Stage
from apps.sla.models import ClockKind
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
