"""The demo seed: spend for three months per channel and the executive's huddle subscription."""

import random

from django.utils import timezone

from apps.dashboards.catalog import CHARTS
from apps.dashboards.demo import MONTHLY_SPEND, seed
from apps.dashboards.models import ChartSnapshot, MarketingSpend, ReportSubscription
from tests.dashboards.factories import user


def test_demo_seeds_spend_and_the_huddle_subscription(acme):
    executive = user("executive")
    executive.email = "cro@acme.test"
    executive.save(update_fields=["email"])
    seed(now=timezone.now(), rng=random.Random(7))
    months = set(MarketingSpend.objects.values_list("month", flat=True))
    assert len(months) == 3 and all(m.day == 1 for m in months)
    assert MarketingSpend.objects.count() == 3 * len(MONTHLY_SPEND)
    assert ReportSubscription.objects.get(user=executive).report == "huddle"
    # This week, month and quarter of every chart (and the at-risk number) are stored.
    per_scope = len(CHARTS) + 1
    assert ChartSnapshot.objects.filter(frozen=False).count() == 3 * per_scope
    seed(now=timezone.now(), rng=random.Random(7))  # idempotent
    assert MarketingSpend.objects.count() == 3 * len(MONTHLY_SPEND)
    assert ChartSnapshot.objects.count() == 3 * per_scope
