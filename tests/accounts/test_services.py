import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts import services
from apps.accounts.exceptions import Conflict, DomainError
from apps.accounts.models import ApiKey, AuditEvent, Invitation, User
from apps.accounts.tokens import token_hash


def _link(mail) -> str:
    return re.search(r"https?://\S+", mail.body).group(0)


def test_invitation_emails_a_link_after_commit(
    acme, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    admin = make_user("admin")
    with django_capture_on_commit_callbacks(execute=True):
        user, link = services.user_invite(
            email="New.Rep@Example.test", name="New Rep", role="rep", invited_by=admin
        )

    assert user.email == "new.rep@example.test"
    assert not user.has_usable_password()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new.rep@example.test"]
    assert _link(mailoutbox[0]) == link
    assert link.startswith("http://acme.localhost")
    assert "Sales rep" in mailoutbox[0].body
    # Only a hash of the invitation token is stored.
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert Invitation.objects.get(user=user).token_hash == token_hash(token)
    assert token not in str(Invitation.objects.filter(user=user).values_list())


def test_accepting_an_invitation_sets_the_password_once(acme, make_user):
    user, link = services.user_invite(
        email="a@x.test", name="A", role="marketer", invited_by=make_user("admin")
    )
    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = services.invitation_for_token(token)

    services.invitation_accept(invitation=invitation, name="Alex", password="glass-orchard-77")

    user.refresh_from_db()
    assert user.check_password("glass-orchard-77")
    assert user.name == "Alex"
    assert services.invitation_for_token(token) is None
    with pytest.raises(Conflict):
        services.invitation_accept(invitation=invitation, name="Alex", password="glass-orchard-78")


def test_expired_invitation_is_refused(acme, make_user):
    user, link = services.user_invite(email="late@x.test", name="", role="rep", invited_by=None)
    Invitation.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.invitation_for_token(link.rstrip("/").rsplit("/", 1)[1]) is None


def test_weak_password_on_accept_names_the_field(acme):
    _, link = services.user_invite(email="weak@x.test", name="W", role="rep", invited_by=None)
    invitation = services.invitation_for_token(link.rstrip("/").rsplit("/", 1)[1])
    with pytest.raises(DomainError) as exc:
        services.invitation_accept(invitation=invitation, name="W", password="password")
    assert exc.value.field == "password"


def test_duplicate_email_and_unknown_role_are_refused(acme, make_user):
    make_user("rep", email="dup@x.test")
    with pytest.raises(DomainError, match="already belongs") as exc:
        services.user_create(email="DUP@x.test", name="D", role="rep")
    assert exc.value.field == "email"
    with pytest.raises(DomainError) as exc:
        services.user_create(email="r@x.test", name="R", role="overlord")
    assert exc.value.field == "role"


def test_role_change_and_deactivation_are_audited_and_revoke_tokens(acme, make_user):
    admin = make_user("admin")
    rep = make_user("rep")
    key, _ = services.api_key_create(name="mine", created_by=rep, user=rep)

    services.user_update(user=rep, actor=admin, role="sales_leader")
    services.user_update(user=rep, actor=admin, is_active=False)

    rep.refresh_from_db()
    assert rep.role == "sales_leader"
    assert not rep.is_active and rep.deactivated_at is not None
    key.refresh_from_db()
    assert key.revoked_at is not None
    actions = list(AuditEvent.objects.filter(target=rep.email).values_list("action", flat=True))
    assert {"user.role_changed", "user.deactivated"} <= set(actions)


def test_last_admin_cannot_be_demoted_or_deactivated(acme):
    only_admin = User.objects.get(role="admin")  # the one created with the organization
    with pytest.raises(Conflict, match="at least one active admin"):
        services.user_update(user=only_admin, actor=None, role="rep")
    with pytest.raises(Conflict):
        services.user_update(user=only_admin, actor=None, is_active=False)


def test_nobody_deactivates_themselves(acme, make_user):
    admin = make_user("admin")
    with pytest.raises(Conflict, match="yourself"):
        services.user_update(user=admin, actor=admin, is_active=False)


def test_api_keys_are_stored_hashed(acme, make_user):
    admin = make_user("admin")
    key, raw = services.api_key_create(name="HubSpot sync", created_by=admin)

    assert raw.startswith(f"hk_{key.prefix}_")
    assert key.key_hash == token_hash(raw)
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert raw not in {str(v) for v in stored.values()}
    assert key.kind == "organization" and key.user is None


def test_api_key_needs_a_name(acme):
    with pytest.raises(DomainError) as exc:
        services.api_key_create(name=" ", created_by=None)
    assert exc.value.field == "name"


def test_a_person_may_hold_several_tokens_and_revoke_each(acme, make_user):
    user = make_user("rep")
    first, _ = services.api_key_create(name="laptop", created_by=user, user=user)
    second, _ = services.api_key_create(name="script", created_by=user, user=user)
    services.api_key_revoke(api_key=first, actor=user)
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert second.revoked_at is None
