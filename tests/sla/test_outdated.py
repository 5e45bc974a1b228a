"""A version drafted against an older base can be neither submitted nor signed once another
version was signed after its base (issue #14, item 1); the overview names what is in force
now and what is scheduled."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.exceptions import Conflict
from apps.sla import selectors, services
from apps.sla.models import VersionStatus
from tests.sla import factories as f

PASSWORD = "correct-horse-battery-9"


def _sign(version, *leaders):
    for leader in leaders:
        services.version_sign(
            version=version, actor=leader, password=PASSWORD, content_hash=version.content_hash
        )


@pytest.fixture
def signed_v1(acme, make_user):
    f.definition(status="published", version=1)
    marketing, sales = make_user("marketing_leader"), make_user("sales_leader")
    v1 = services.version_create(
        actor=marketing, template_key="sample_sla", effective_at=timezone.now() - timedelta(days=30)
    )
    services.version_submit(version=v1, actor=marketing)
    _sign(v1, marketing, sales)
    return v1, marketing, sales


def test_the_issue_reproduction_is_refused(signed_v1, client_as):
    v1, marketing, sales = signed_v1
    # v2 drafted from v1 for next week, signed by marketing, waits for sales ...
    v2 = services.version_create(actor=marketing, from_version=v1)
    services.version_update(
        version=v2, actor=marketing, effective_at=timezone.now() + timedelta(days=7)
    )
    services.version_submit(version=v2, actor=marketing)
    _sign(v2, marketing)
    # ... while v3, also from v1, is signed by both.
    v3 = services.version_create(actor=sales, from_version=v1)
    services.commitment_update(
        commitment=v3.commitments.get(metric="mql_volume"), actor=sales, target=180
    )
    services.version_submit(version=v3, actor=sales)
    _sign(v3, marketing, sales)

    assert selectors.version_outdated_by(v2) == v3
    with pytest.raises(Conflict) as caught:
        _sign(v2, sales)
    assert caught.value.field == "based_on"
    assert "v3 was signed by both leaders after that" in caught.value.message
    v2.refresh_from_db()
    v3.refresh_from_db()
    assert (v2.status, v3.status) == (VersionStatus.AWAITING_SIGNATURES, VersionStatus.ACTIVE)
    assert selectors.active_version() == v3

    # The page says why and offers the way forward; the sign form is gone.
    page = client_as("sales_leader", user=sales).get(reverse("sla:version_detail", args=[v2.pk]))
    text = page.content.decode()
    assert "This version is outdated and can no longer be signed" in text
    assert "Draft an amendment of v3" in text
    assert "Sign for sales" not in text
    # The diff against the version in force: signing v2 would undo v3's 180.
    assert "against v3 (in force now)" in text
    assert "at least 180 MQLs" in text
    posted = client_as("sales_leader", user=sales).post(
        reverse("sla:version_sign", args=[v2.pk]),
        {"password": PASSWORD, "content_hash": v2.content_hash},
    )
    assert posted.status_code == 400
    assert "is outdated and cannot be signed" in posted.content.decode()


def test_an_outdated_draft_cannot_be_submitted(signed_v1):
    v1, marketing, sales = signed_v1
    template_draft = services.version_create(actor=marketing, template_key="startup_one_pager")
    assert template_draft.based_on == v1
    amendment = services.version_create(actor=sales, from_version=v1)
    services.version_submit(version=amendment, actor=sales)
    _sign(amendment, marketing, sales)
    with pytest.raises(Conflict, match="outdated and cannot be submitted"):
        services.version_submit(version=template_draft, actor=marketing)
    # A draft of the newest signed version is fine.
    fresh = services.version_create(actor=marketing, from_version=amendment)
    services.version_submit(version=fresh, actor=marketing)
    assert selectors.version_outdated_by(fresh) is None


def test_the_overview_names_the_version_in_force_and_the_scheduled_one(signed_v1, client_as):
    v1, marketing, sales = signed_v1
    start = (timezone.now() + timedelta(days=10)).replace(microsecond=0)
    v2 = services.version_create(actor=marketing, from_version=v1)
    services.version_update(version=v2, actor=marketing, effective_at=start)
    services.version_submit(version=v2, actor=marketing)
    _sign(v2, marketing, sales)
    v1.refresh_from_db()
    # Stored status says superseded, but v1 governs until v2 starts.
    assert v1.status == VersionStatus.SUPERSEDED
    assert selectors.version_phase(v1).key == "in_force"
    assert selectors.version_phase(v2).key == "scheduled"
    assert selectors.version_scheduled() == v2

    text = client_as("rep").get(reverse("sla:overview")).content.decode()
    assert "In force now: v1" in text
    assert "Scheduled: " in text and f">v{v2.number}</a> takes over on" in text
    assert "● In force until" in text and "◷ Scheduled from" in text
