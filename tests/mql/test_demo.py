"""The demo seeds of the ICP and MQL apps go through the services and leave a usable state."""

import random

from django.utils import timezone

from apps.icp import demo as icp_demo
from apps.icp.selectors import icp_current
from apps.mql import demo as mql_demo
from apps.mql.models import DefinitionComment, MqlDefinition


def test_demo_seeds(make_user):
    for email, role in (
        ("marketing@acme.test", "marketing_leader"),
        ("marketer@acme.test", "marketer"),
        ("sales@acme.test", "sales_leader"),
    ):
        make_user(role, email=email)
    now, rng = timezone.now(), random.Random(7)

    icp_demo.seed(now=now, rng=rng)
    mql_demo.seed(now=now, rng=rng)

    current = icp_current()
    assert current.summary.startswith("Won deals show") and current.approvals.count() == 2
    seeded = MqlDefinition.objects.filter(created_by__email__endswith="@acme.test")
    states = sorted(seeded.values_list("kind", "status", "name"))
    assert [(kind, status) for kind, status, _ in states] == [
        ("mql", "draft"),
        ("mql", "published"),
        ("pql", "published"),
    ]
    draft = seeded.get(status="draft")
    assert DefinitionComment.objects.filter(definition=draft).count() == 2
    assert MqlDefinition.objects.active().get().name == "Engaged buyers at real companies"
