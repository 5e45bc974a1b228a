"""The compliance demo step: snapshot history plus one sweep leaves notifications to read."""

import random
from datetime import timedelta

from django.utils import timezone

from apps.compliance import demo
from apps.compliance.models import ComplianceSnapshot, Notification
from tests.compliance import factories as f


def test_demo_recomputes_90_days_and_rings_the_bell(acme, make_user):
    now = timezone.now()
    version = f.signed_version(
        effective_at=now - timedelta(days=120), commitments=(f.FIRST_CONTACT_4H, f.MQL_VOLUME)
    )
    rep, leader = make_user("rep"), make_user("sales_leader")
    commitment = version.commitments.get(metric="first_contact_time")
    for days in range(0, 90, 3):
        lead = f.lead(owner=rep)
        event = f.mql_event(lead=lead, at=now - timedelta(days=days, hours=2))
        clock = f.clock(
            event=event, commitment=commitment, due_at=event.qualified_at + timedelta(hours=1)
        )
        if days % 2:
            f.touch(lead=lead, at=event.qualified_at + timedelta(minutes=30))
        del clock

    demo.seed(now=now, rng=random.Random(7))

    weeks = ComplianceSnapshot.objects.filter(commitment=commitment, period_kind="week")
    assert weeks.filter(frozen=True).count() >= 12
    assert weeks.filter(frozen=False).count() == 1
    assert ComplianceSnapshot.objects.filter(period_kind="quarter").exists()
    # The clock due an hour after an MQL two hours ago breached: rep and leader are told.
    assert Notification.objects.filter(recipient=rep, kind="breach").exists()
    assert Notification.objects.filter(recipient=leader, kind="breach").exists()


def test_the_demo_shows_a_period_under_two_sla_versions_scored_once(acme, make_user, monkeypatch):
    from apps.compliance import selectors
    from apps.compliance.periods import PeriodKind, period_for
    from apps.icp import demo as icp_demo
    from apps.leads import demo as leads_demo
    from apps.mql import demo as mql_demo
    from apps.sla import demo as sla_demo
    from apps.sla import selectors as sla_selectors
    from apps.tenants.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS

    monkeypatch.setattr(leads_demo, "LEADS", 150)
    for email, name, role in DEMO_USERS[1:]:
        user = make_user(role, email=email, name=name)
        user.set_password(DEMO_PASSWORD)  # the SLA demo signs with the leaders' passwords
        user.save()
    now, rng = timezone.now(), random.Random(7)
    for seed in (icp_demo.seed, mql_demo.seed, sla_demo.seed, leads_demo.seed):
        seed(now=now, rng=rng)

    v2 = sla_selectors.version_in_force(at=now)
    month = period_for(PeriodKind.MONTH, v2.effective_at, selectors.organization_timezone())
    results = selectors.compliance_for_period(period=month, as_of=min(now, month.end))
    keys = [r.kind.key for r in results]
    assert len(keys) == len(set(keys)) == 6
    volume = next(r for r in results if r.kind.key == "marketing.mql_volume")
    assert volume.result.versions == (1, 2)
    assert 150 < volume.result.target < 170
    # v2's promise speaks for the month, or v4's (drafted from v2) when the demo's v4,
    # signed for a week ahead, takes effect before the month is over.
    assert volume.kind.holds(v2.commitments.get(metric="mql_volume"))
    assert volume.commitment.version.number in (2, 4)
