"""The leads demo replays 90 days through the services: qualification, routing and stages as live."""

import random
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from apps.accounts.models import User
from apps.leads import demo
from apps.leads.models import Activity, Assignment, Lead, RoutingRule, StageChange
from apps.tenants.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS


def test_demo_seed(acme, make_user, monkeypatch):
    # A fifth of the real volume keeps the test quick; `manage.py seed_demo` runs the full 1,500.
    monkeypatch.setattr(demo, "LEADS", 300)
    for email, name, role in DEMO_USERS[1:]:
        user = make_user(role, email=email, name=name)
        user.set_password(DEMO_PASSWORD)  # the SLA demo signs with the leaders' passwords
        user.save()
    from apps.icp import demo as icp_demo
    from apps.mql import demo as mql_demo
    from apps.sla import demo as sla_demo

    now, rng = timezone.now(), random.Random(7)
    for seed in (icp_demo.seed, mql_demo.seed, sla_demo.seed):
        seed(now=now, rng=rng)
    demo.seed(now=now, rng=rng)

    assert Lead.objects.count() == demo.LEADS
    assert set(Lead.objects.values_list("source", flat=True)) == set(demo.SOURCES)
    assert Lead.objects.filter(created_at__lt=now - timedelta(days=80)).exists()
    assert Activity.objects.count() > 5 * demo.LEADS
    assert RoutingRule.objects.count() == 3
    mqls = Lead.objects.filter(mql_at__isnull=False)
    assert mqls.count() > 20
    # Routed while replaying: assigned within the batch the lead qualified in, never before.
    assert not mqls.filter(owner__isnull=True).exists()
    assert not mqls.filter(assigned_at__lt=F("mql_at")).exists()
    assert not mqls.filter(assigned_at__gt=F("mql_at") + timedelta(hours=12)).exists()
    enterprise = mqls.filter(company_size__gte=500)
    rep3 = User.objects.get(email="rep3@acme.test")
    assert not enterprise.filter(owner=rep3).exists()
    assert Assignment.objects.filter(rule__name="EMEA").exists()
    assert StageChange.objects.filter(to_stage="won").exists()
    assert (
        Lead.objects.filter(stage="opportunity", amount__isnull=False).exists()
        or Lead.objects.filter(stage__in=["won", "lost"]).exists()
    )
    demo.seed(now=now, rng=rng)  # a second run adds nothing
    assert Lead.objects.count() == demo.LEADS
