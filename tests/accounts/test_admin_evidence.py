"""The Django admin cannot touch the evidence: audit events, the SLA change log, signatures
and clocks are read-only there, and versions cannot be deleted."""

import pytest
from django.urls import reverse

from apps.accounts.services import audit_record
from apps.sla import clocks, services
from apps.sla.models import SlaClock
from tests.sla import factories as f


@pytest.fixture
def operator(client_as, make_user):
    return client_as("admin", user=make_user("admin", is_staff=True, is_superuser=True))


def test_staff_cannot_delete_or_edit_audit_events_and_the_change_log(acme, operator, make_user):
    event = audit_record(actor=None, action="user.created", target="x@acme.test")
    marketing = make_user("marketing_leader")
    version = services.version_create(actor=marketing)
    change = version.changes.get()
    for model, obj in (("accounts/auditevent", event), ("sla/slaversionchange", change)):
        app, name = model.split("/")
        page = operator.get(reverse(f"admin:{app}_{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert (
            operator.post(
                reverse(f"admin:{app}_{name}_delete", args=[obj.pk]), {"post": "yes"}
            ).status_code
            == 403
        )
        assert operator.get(reverse(f"admin:{app}_{name}_add")).status_code == 403
    assert (
        operator.post(
            reverse("admin:sla_slaversion_delete", args=[version.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    event.refresh_from_db()
    change.refresh_from_db()


def test_clock_state_is_not_editable_in_the_admin(acme, operator):
    from datetime import UTC, datetime

    version = f.signed_version(effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    lead = f.lead()
    clocks.clocks_open(mql_events=[f.mql_event(lead=lead, at=datetime(2026, 3, 2, 10, tzinfo=UTC))])
    clock = SlaClock.objects.filter(lead=lead).first()
    assert clock.sla_version == version
    url = reverse("admin:sla_slaclock_change", args=[clock.pk])
    assert 'name="_save"' not in operator.get(url).content.decode()
    response = operator.post(url, {"state": "met"})
    assert response.status_code == 403
    clock.refresh_from_db()
    assert clock.state == "pending"
