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
