"""One table of who may do what (apps/accounts/roles.py CAPABILITY_ROLES): README shows it,
the permission checks read it, and these tests hold the three together (the permission
matrix in tests/test_permission_matrix.py takes its rows for these pages from it too)."""

from datetime import timedelta
from pathlib import Path

from django.urls import reverse
from django.utils import timezone

from apps.accounts.access import capability_table_markdown
from apps.accounts.roles import Capability, roles_for
from apps.dashboards.models import MarketingSpend
from apps.dispositions.models import Disposition
from tests.dispositions import factories as f

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_shows_the_table_the_code_uses():
    assert capability_table_markdown() in README.read_text(), (
        "README's roles table differs from apps/accounts/roles.py; paste:\n"
        + capability_table_markdown()
    )


def test_the_executive_reads_the_spend_but_cannot_enter_it(client_as):
    assert "executive" not in roles_for(Capability.ENTER_SPEND)
    executive = client_as("executive")
    page = executive.get(reverse("dashboards:spend"))
    assert page.status_code == 200 and b"Read-only" in page.content
    saved = executive.post(
        reverse("dashboards:spend"), {"month": "2026-01", "channel": "webinar", "amount": "100"}
    )
    assert saved.status_code == 403 and not MarketingSpend.objects.exists()
    leader = client_as("marketing_leader")
    leader.post(
        reverse("dashboards:spend"), {"month": "2026-01", "channel": "webinar", "amount": "100"}
    )
    assert MarketingSpend.objects.count() == 1


def test_admins_log_touches_and_dispositions(api_as, make_user):
    assert "admin" in roles_for(Capability.WORK_LEADS)
    lead = f.mql_lead(owner=make_user("rep"), mql_at=timezone.now() - timedelta(minutes=30))
    admin = api_as("admin")
    now = timezone.now().isoformat()
    touch = admin.post(
        "/api/v1/touches/",
        {"external_id": "t-admin", "lead": lead.external_id, "kind": "call", "occurred_at": now},
        content_type="application/json",
    )
    assert touch.status_code == 201, touch.content
    disposition = admin.post(
        "/api/v1/dispositions/",
        {
            "external_id": "d-admin",
            "lead": lead.external_id,
            "outcome": "working",
            "occurred_at": now,
        },
        content_type="application/json",
    )
    assert disposition.status_code == 201, disposition.content
    assert Disposition.objects.filter(lead=lead, actor=admin.user).exists()
    # A marketer still may not.
    denied = api_as("marketer").post(
        "/api/v1/touches/",
        {"external_id": "t-m", "lead": lead.external_id, "kind": "call", "occurred_at": now},
        content_type="application/json",
    )
    assert denied.status_code == 403
