"""The demo seed signs the sample SLA from 120 days ago and a second version from ten days ago,
schedules a third signed one for next week, and leaves an outdated amendment that can no longer
be signed."""

import random
from datetime import UTC, datetime, timedelta

from apps.accounts.models import User
from apps.sla import demo, selectors
from apps.sla.models import Signature, VersionStatus
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
    assert first.superseded_at == active.effective_at == datetime(2026, 5, 22, tzinfo=UTC)
    assert active.commitments.get(metric="mql_volume").target == 170
    assert first.commitments.get(metric="mql_volume").target == 150
    outdated, scheduled = (
        active.contract.versions.get(number=3),
        active.contract.versions.get(number=4),
    )
    assert outdated.status == VersionStatus.AWAITING_SIGNATURES
    assert [s.team for s in outdated.signatures.all()] == ["marketing"]
    assert outdated.based_on == active
    assert selectors.version_outdated_by(outdated) == scheduled
    assert scheduled.effective_at == datetime(2026, 6, 8, tzinfo=UTC)
    assert selectors.version_in_force(at=scheduled.effective_at) == scheduled
    # The leaders' signatures verify: keyed, chained, sealed.
    for version in (first, active, outdated, scheduled):
        version = selectors.version_detail_queryset().get(pk=version.pk)
        assert selectors.version_verify(version=version).is_intact, version
    assert sorted(Signature.objects.values_list("sequence", flat=True)) == [1, 2, 3, 4, 5, 6, 7]
    demo.seed(now=now, rng=random.Random(7))  # idempotent
    assert active.contract.versions.count() == 4
