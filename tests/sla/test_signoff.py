"""The sign-off state machine: drafts, submission, two signatures, activation, supersession."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.mql.models import MqlDefinition
from apps.sla import selectors, services
from apps.sla.agreement_templates import TEMPLATES
from apps.sla.models import (
    ChangeAction,
    Commitment,
    EscalationRule,
    Signature,
    SlaVersion,
    VersionStatus,
)
from tests.sla import factories as f

PASSWORD = "correct-horse-battery-9"  # tests/accounts/factories.UserFactory's


@pytest.fixture
def leaders(make_user):
    f.definition(status="published", version=1)
    return make_user("marketing_leader"), make_user("sales_leader")


def _draft(actor, template="sample_sla", **kwargs):
    return services.version_create(actor=actor, template_key=template, **kwargs)


def _signed(marketing, sales, **kwargs):
    version = _draft(marketing, **kwargs)
    services.version_submit(version=version, actor=marketing)
    services.version_sign(
        version=version, actor=sales, password=PASSWORD, content_hash=version.content_hash
    )
    services.version_sign(
        version=version, actor=marketing, password=PASSWORD, content_hash=version.content_hash
    )
    version.refresh_from_db()
    return version


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_is_a_complete_draft_in_one_call(acme, leaders, key):
    marketing, _ = leaders
    version = _draft(marketing, template=key)
    template = TEMPLATES[key]
    assert version.status == VersionStatus.DRAFT
    assert version.purpose == template.purpose
    assert version.mql_definition.status == "published"
    assert version.calendar.is_default
    assert version.commitments.count() == len(template.commitments)
    assert version.escalation_rules.count() == len(template.escalations)
    assert version.changes.get().action == ChangeAction.CREATED


def test_the_sample_template_holds_the_articles_table(acme, leaders):
    version = _draft(leaders[0])
    rows = {
        c.metric: (c.owner_team, c.params, c.target, c.review_period)
        for c in version.commitments.all()
    }
    assert rows["mql_volume"] == ("marketing", {}, 150, "month")
    assert rows["mql_to_sql_rate"] == ("marketing", {}, 0.25, "month")
    assert rows["first_contact_time"] == (
        "sales",
        {"hours": 4, "clock": "business"},
        0.9,
        "week",
    )
    assert rows["follow_up_cadence"][1] == {"touches": 6, "days": 14}
    assert rows["rejection_reason_coverage"][2] == 1.0
    assert rows["disposition_time"][1] == {"hours": 48, "clock": "calendar"}
    rule = version.escalation_rules.get(commitment__metric="first_contact_time")
    assert (rule.threshold, rule.periods, rule.period_kind, rule.notify_role) == (
        0.8,
        2,
        "week",
        "executive",
    )


def test_full_sign_off_activates_and_notifies(
    acme, leaders, make_user, django_capture_on_commit_callbacks
):
    marketing, sales = leaders
    executive = make_user("executive")
    with django_capture_on_commit_callbacks(execute=True):
        version = _draft(marketing)
        services.version_submit(version=version, actor=marketing)
    assert version.status == VersionStatus.AWAITING_SIGNATURES
    assert version.calendar_snapshot["week"][0] == [["09:00", "17:00"]]
    assert version.content_hash == selectors.version_content_hash(version)
    assert (
        version.review_date
        == (timezone.localtime(version.submitted_at) + timedelta(days=30)).date()
    )
    assert "ready for your signature" in mail.outbox[-1].subject
    assert set(mail.outbox[-1].to) >= {marketing.email, sales.email, executive.email}

    with django_capture_on_commit_callbacks(execute=True):
        first = services.version_sign(
            version=version,
            actor=sales,
            password=PASSWORD,
            content_hash=version.content_hash,
            ip_address="203.0.113.9",
            user_agent="Firefox",
        )
    assert (first.team, first.role, first.channel, first.ip_address) == (
        "sales",
        "sales_leader",
        "web",
        "203.0.113.9",
    )
    assert first.content_hash == version.content_hash
    version.refresh_from_db()
    assert version.status == VersionStatus.AWAITING_SIGNATURES

    with django_capture_on_commit_callbacks(execute=True):
        services.version_sign(
            version=version, actor=marketing, password=PASSWORD, content_hash=version.content_hash
        )
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE
    assert version.activated_at is not None
    assert selectors.active_version() == version
    assert "in force from" in mail.outbox[-1].subject
    assert [c.action for c in version.changes.all()] == [
        ChangeAction.CREATED,
        ChangeAction.SUBMITTED,
        ChangeAction.SIGNED,
        ChangeAction.SIGNED,
        ChangeAction.ACTIVATED,
    ]
    assert selectors.version_verify(version=version).is_intact


def test_a_new_signed_version_supersedes_the_old_from_its_effective_date(acme, leaders):
    marketing, sales = leaders
    old = _signed(marketing, sales, effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    amendment = services.version_create(actor=sales, from_version=old)
    assert amendment.number == old.number + 1
    assert amendment.commitments.count() == old.commitments.count()
    services.version_update(
        version=amendment, actor=sales, effective_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    services.version_submit(version=amendment, actor=sales)
    services.version_sign(
        version=amendment, actor=marketing, password=PASSWORD, content_hash=amendment.content_hash
    )
    services.version_sign(
        version=amendment, actor=sales, password=PASSWORD, content_hash=amendment.content_hash
    )

    old.refresh_from_db()
    assert old.status == VersionStatus.SUPERSEDED
    assert old.superseded_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert selectors.version_in_force(at=datetime(2026, 2, 28, tzinfo=UTC)) == old
    assert selectors.version_in_force(at=datetime(2026, 3, 1, tzinfo=UTC)) == amendment
    assert selectors.version_in_force(at=datetime(2025, 12, 31, tzinfo=UTC)) is None


def test_a_change_after_submission_withdraws_signatures(acme, leaders):
    marketing, sales = leaders
    version = _draft(marketing)
    services.version_submit(version=version, actor=marketing)
    signature = services.version_sign(
        version=version, actor=sales, password=PASSWORD, content_hash=version.content_hash
    )

    commitment = version.commitments.get(metric="first_contact_time")
    services.commitment_update(
        commitment=commitment, actor=marketing, params={"hours": 2, "clock": "business"}
    )

    version.refresh_from_db()
    signature.refresh_from_db()
    assert version.status == VersionStatus.DRAFT
    assert version.content_hash == ""
    assert signature.is_withdrawn and signature.round == 1
    assert ChangeAction.SIGNATURES_WITHDRAWN in version.changes.values_list("action", flat=True)
    # Both must sign again once resubmitted: the sales signature does not carry over.
    services.version_submit(version=version, actor=marketing)
    services.version_sign(
        version=version, actor=marketing, password=PASSWORD, content_hash=version.content_hash
    )
    version.refresh_from_db()
    assert version.status == VersionStatus.AWAITING_SIGNATURES
    services.version_sign(
        version=version, actor=sales, password=PASSWORD, content_hash=version.content_hash
    )
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE
    verification = selectors.version_verify(version=version)
    assert verification.is_intact
    # The withdrawn signature was on other content, and says so; all three stay chained.
    assert [c.matches for c in verification.signatures] == [False, True, True]
    assert [(c.signature.round, c.live) for c in verification.signatures] == [
        (1, False),
        (2, True),
        (2, True),
    ]
    assert [c.signature.sequence for c in verification.signatures] == [1, 2, 3]


def test_every_draft_change_is_logged_with_its_author(acme, leaders):
    marketing, sales = leaders
    version = services.version_create(actor=marketing)
    commitment = services.commitment_add(
        version=version,
        actor=marketing,
        owner_team="sales",
        metric="first_contact_time",
        params={"hours": 4},
        target=0.9,
        yellow_threshold=0.8,
    )
    services.escalation_rule_add(version=version, actor=sales, commitment=commitment, threshold=0.8)
    services.version_update(version=version, actor=sales, purpose="Why we agree.")
    services.commitment_update(commitment=commitment, actor=sales, target=0.95)
    log = [(c.action, c.author) for c in version.changes.all()]
    assert log == [
        (ChangeAction.CREATED, marketing),
        (ChangeAction.COMMITMENT_ADDED, marketing),
        (ChangeAction.ESCALATION_ADDED, sales),
        (ChangeAction.EDITED, sales),
        (ChangeAction.COMMITMENT_CHANGED, sales),
    ]
    edited = version.changes.get(action=ChangeAction.EDITED)
    assert edited.detail == {"purpose": {"from": "", "to": "Why we agree."}}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"metric": "first_contact_time", "params": {}}, "params.hours"),
        (
            {"metric": "first_contact_time", "params": {"hours": 4, "clock": "lunar"}},
            "params.clock",
        ),
        ({"metric": "follow_up_cadence", "params": {"touches": 0, "days": 14}}, "params.touches"),
        ({"metric": "mql_to_sql_rate", "target": 25}, "target"),
        ({"metric": "mql_to_sql_rate", "target": 0.2, "yellow_threshold": 0.3}, "yellow_threshold"),
        ({"metric": "no_such_metric"}, "metric"),
        ({"segment": [{"field": "shoe_size", "op": "equals", "value": 9}]}, "segment"),
        ({"owner_team": "finance"}, "owner_team"),
    ],
)
def test_bad_commitments_name_the_field(acme, leaders, values, field):
    version = services.version_create(actor=leaders[0])
    base = {
        "owner_team": "sales",
        "metric": "mql_to_sql_rate",
        "params": {},
        "target": 0.25,
        "yellow_threshold": 0.2,
    }
    with pytest.raises(DomainError) as caught:
        services.commitment_add(version=version, actor=leaders[0], **{**base, **values})
    assert caught.value.field == field


def test_submission_needs_commitments_and_an_mql_definition(acme, leaders):
    version = services.version_create(actor=leaders[0])
    with pytest.raises(DomainError) as caught:
        services.version_submit(version=version, actor=leaders[0])
    assert caught.value.field == "commitments"


@pytest.mark.parametrize("role", ["rep", "marketer", "executive", "admin"])
def test_only_the_two_leaders_can_sign(acme, leaders, make_user, role):
    version = _draft(leaders[0])
    services.version_submit(version=version, actor=leaders[0])
    with pytest.raises(NotAllowed):
        services.version_sign(
            version=version,
            actor=make_user(role),
            password=PASSWORD,
            content_hash=version.content_hash,
        )
    assert not Signature.objects.filter(version=version).exists()


def test_a_leader_cannot_sign_for_the_other_team_or_twice(acme, leaders):
    marketing, _sales = leaders
    version = _draft(marketing)
    services.version_submit(version=version, actor=marketing)
    with pytest.raises(NotAllowed) as caught:
        services.version_sign(
            version=version,
            actor=marketing,
            team="sales",
            channel="api",
            password=PASSWORD,
            content_hash=version.content_hash,
        )
    assert caught.value.field == "team"
    services.version_sign(
        version=version,
        actor=marketing,
        channel="api",
        password=PASSWORD,
        content_hash=version.content_hash,
    )
    with pytest.raises(Conflict):
        services.version_sign(
            version=version,
            actor=marketing,
            channel="api",
            password=PASSWORD,
            content_hash=version.content_hash,
        )


def test_signing_in_the_browser_needs_the_password(acme, leaders):
    marketing, _ = leaders
    version = _draft(marketing)
    services.version_submit(version=version, actor=marketing)
    with pytest.raises(DomainError) as caught:
        services.version_sign(
            version=version,
            actor=marketing,
            password="wrong-password",
            content_hash=version.content_hash,
        )
    assert caught.value.field == "password"


def test_drafts_cannot_be_signed_and_a_stale_hash_is_refused(acme, leaders):
    marketing, sales = leaders
    version = _draft(marketing)
    with pytest.raises(Conflict):
        services.version_sign(
            version=version, actor=sales, channel="api", password=PASSWORD, content_hash="0" * 64
        )
    services.version_submit(version=version, actor=marketing)
    with pytest.raises(Conflict) as caught:
        services.version_sign(
            version=version, actor=sales, channel="api", password=PASSWORD, content_hash="0" * 64
        )
    assert caught.value.field == "content_hash"


@pytest.mark.parametrize("role", ["rep", "marketer", "executive"])
def test_only_drafters_can_draft(acme, make_user, role):
    with pytest.raises(NotAllowed):
        services.version_create(actor=make_user(role), template_key="sample_sla")


# --- immutability: every path refuses ------------------------------------------------


def _raw(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_services_refuse_to_change_a_signed_version(acme, leaders):
    marketing, sales = leaders
    version = _signed(marketing, sales)
    commitment = version.commitments.first()
    rule = version.escalation_rules.first()
    attempts = [
        lambda: services.version_update(version=version, actor=marketing, purpose="changed"),
        lambda: services.commitment_add(
            version=version,
            actor=marketing,
            owner_team="sales",
            metric="mql_to_sql_rate",
            target=0.3,
            yellow_threshold=0.2,
        ),
        lambda: services.commitment_update(commitment=commitment, actor=marketing, target=0.5),
        lambda: services.commitment_remove(commitment=commitment, actor=marketing),
        lambda: services.escalation_rule_update(rule=rule, actor=marketing, threshold=0.5),
        lambda: services.escalation_rule_remove(rule=rule, actor=marketing),
        lambda: services.version_submit(version=version, actor=marketing),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict):
            attempt()
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE
    assert selectors.version_verify(version=version).is_intact


def test_the_database_refuses_writes_that_go_around_the_services(acme, leaders):
    """Defence in depth: PostgreSQL triggers (migration 0003) guard signed versions."""
    version = _signed(*leaders)
    commitment = version.commitments.first()
    writes = [
        lambda: SlaVersion.objects.filter(pk=version.pk).update(purpose="sneaky"),
        lambda: SlaVersion.objects.filter(pk=version.pk).update(status="draft"),
        lambda: SlaVersion.objects.filter(pk=version.pk).update(calendar_snapshot={}),
        lambda: Commitment.objects.filter(pk=commitment.pk).update(target=0.01),
        lambda: Commitment.objects.filter(pk=commitment.pk).delete(),
        lambda: Commitment.objects.create(
            version=version, owner_team="sales", metric="mql_volume", target=1, yellow_threshold=1
        ),
        lambda: EscalationRule.objects.filter(version=version).update(threshold=0),
        lambda: Signature.objects.filter(version=version).update(channel="api"),
        lambda: Signature.objects.filter(version=version).delete(),
        lambda: _raw("DELETE FROM sla_slaversion WHERE id = %s", version.pk),
        lambda: MqlDefinition.objects.filter(pk=version.mql_definition_id).update(rules={}),
        lambda: _raw("DELETE FROM mql_mqldefinition WHERE id = %s", version.mql_definition_id),
    ]
    for write in writes:
        with pytest.raises(DatabaseError, match=r"signed|append-only"), transaction.atomic():
            write()
    assert selectors.version_verify(version=version).is_intact


def test_the_published_definition_a_signed_version_embeds_cannot_change(acme, leaders):
    version = _signed(*leaders)
    definition = version.mql_definition
    definition.rules = {**definition.rules, "fit": {"match": "all", "conditions": []}}
    with pytest.raises(DatabaseError, match="part of signed SLA version"), transaction.atomic():
        definition.save()
    # Its name and status are not signed content: publishing a successor retires it.
    MqlDefinition.objects.filter(pk=definition.pk).update(name="Renamed", status="retired")
    version = selectors.version_detail_queryset().get(pk=version.pk)
    assert selectors.version_verify(version=version).is_intact


def test_the_database_refuses_two_versions_in_force_at_once(acme, leaders):
    _signed(*leaders, effective_at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(DatabaseError, match="in_force_never_overlaps"), transaction.atomic():
        f.signed_version(effective_at=datetime(2026, 2, 1, tzinfo=UTC))
