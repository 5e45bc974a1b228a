"""The demo seed signs the sample SLA from 120 days ago, a second version from ten days ago,
and leaves an amendment of the second awaiting sales."""

import random
from datetime import UTC, datetime, timedelta

from apps.accounts.models import User
from apps.sla import demo, selectors
from apps.sla.models import VersionStatus
from tests.sla import factories as f


def test_demo_seed_signs_the_sample_sla_through_the_services(acme, make_user):
    for email, role in (
        ("marketing@acme.test", "marketing_leader"),
        ("sales@acme.test", "sales_leader"),
    ):
        make_user(role, email=email)
    for user in User.objects.filter(email__in=["marketing@acme.test", "sales@acme.test"]):
        user.set_password(demo.DEMO_PASSWORD)
        user.save()
    f.definition(status="published", version=1)
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    demo.seed(now=now, rng=random.Random(7))

    first = selectors.version_in_force(at=now - timedelta(days=90))
    assert first.number == 1
    assert first.effective_at == datetime(2026, 2, 1, tzinfo=UTC)
    assert first.calendar_snapshot["timezone"] == "America/New_York"
    assert {s.signer.email for s in first.signatures.all()} == {
        "marketing@acme.test",
        "sales@acme.test",
    }
    active = selectors.version_in_force(at=now)
    assert active.number == 2
    assert active.effective_at == datetime(2026, 5, 22, tzinfo=UTC)
    assert first.superseded_at == active.effective_at == datetime(2026, 5, 22, tzinfo=UTC)
    assert active.commitments.get(metric="mql_volume").target == 170
    assert first.commitments.get(metric="mql_volume").target == 150
    pending = active.contract.versions.get(number=3)
    assert pending.status == VersionStatus.AWAITING_SIGNATURES
    assert [s.team for s in pending.signatures.all()] == ["marketing"]
    assert selectors.version_verify(version=active).is_intact
    demo.seed(now=now, rng=random.Random(7))  # idempotent
    assert active.contract.versions.count() == 3
