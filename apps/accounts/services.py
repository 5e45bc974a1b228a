"""Writes on people and keys. Each write leaves an audit event."""

import secrets
from datetime import datetime, timedelta

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.accounts import two_factor
from apps.accounts.audit import audit_record
from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.models import ApiKey, Invitation, Scope, User
from apps.accounts.provisioning import provisioners
from apps.accounts.roles import Role
from apps.accounts.tokens import token_generate, token_hash
from apps.tenants.addresses import organization_url


def _email_clean(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError("Enter a valid email address.", field="email") from exc
    return email


def _role_clean(role: str) -> str:
    if role not in Role.values:
        raise DomainError(
            f"Unknown role “{role}”. Choose one of: {', '.join(Role.values)}.", field="role"
        )
    return role


def _password_clean(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from exc


@transaction.atomic
def user_create(
    *, email: str, name: str, role: str, password: str | None = None, actor: User | None = None
) -> User:
    """Create an active user with a role; without a password the user must be invited to set one."""
    email = _email_clean(email)
    role = _role_clean(role)
    name = (name or "").strip() or email.split("@")[0]
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError(f"{email} already belongs to a user of this organization.", field="email")
    user = User(email=email, name=name, role=role)
    if password:
        _password_clean(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit_record(actor=actor, action="user.created", target=email, role=role)
    return user


def _tenant_url(path: str) -> str:
    return organization_url(connection.tenant, path)


@transaction.atomic
def user_invite(*, email: str, name: str, role: str, invited_by: User | None) -> tuple[User, str]:
    """Create the user (no password yet) and email an invitation link; returns the user and the link."""
    user = user_create(email=email, name=name, role=role, actor=invited_by)
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        email=user.email,
        role=role,
        user=user,
        token_hash=token_hash(token),
        invited_by=invited_by if getattr(invited_by, "pk", None) else None,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
    )
    link = _tenant_url(reverse("accounts:invitation_accept", args=[token]))
    organization_name = connection.tenant.name
    context = {
        "user": user,
        "link": link,
        "organization": organization_name,
        "invited_by": invited_by,
        "role": Role(role).label,
        "days": settings.INVITATION_MAX_AGE_DAYS,
    }
    # Sent after commit: a rolled-back invitation must not reach anyone's inbox.
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {organization_name} on Handoff",
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )
    )
    audit_record(actor=invited_by, action="user.invited", target=user.email, role=role)
    return user, link


def invitation_for_token(token: str) -> Invitation | None:
    """The open invitation a link token belongs to, or None when unknown, used or expired."""
    invitation = (
        Invitation.objects.select_related("user").filter(token_hash=token_hash(token)).first()
    )
    if invitation is None or not invitation.is_open():
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, name: str, password: str) -> User:
    """Set the invited user's name and password and close the invitation."""
    invitation = Invitation.objects.select_for_update().select_related("user").get(pk=invitation.pk)
    if not invitation.is_open():
        raise Conflict("This invitation has already been used or has expired.", field="token")
    user = invitation.user
    if name and name.strip():
        user.name = name.strip()
    _password_clean(password, user)
    user.set_password(password)
    user.save(update_fields=["name", "password"])
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_record(actor=user, action="invitation.accepted", target=user.email)
    return user


def _guard_last_admin(user: User, *, new_role: str, new_active: bool) -> None:
    if user.role != Role.ADMIN or (new_role == Role.ADMIN and new_active):
        return
    others = User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk)
    if not others.exists():
        raise Conflict(
            "The organization needs at least one active admin: make someone else admin first.",
            field="role" if new_role != Role.ADMIN else "is_active",
        )


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: User | None,
    name: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
) -> User:
    """Change a user's name, role or active flag; the last active admin cannot be demoted or deactivated."""
    user = User.objects.select_for_update().get(pk=user.pk)
    new_role = _role_clean(role) if role is not None else user.role
    new_active = user.is_active if is_active is None else is_active
    if actor is not None and getattr(actor, "pk", None) == user.pk and not new_active:
        raise Conflict("You cannot deactivate yourself.", field="is_active")
    _guard_last_admin(user, new_role=new_role, new_active=new_active)
    changes: dict[str, object] = {}
    if name is not None and name.strip() and name.strip() != user.name:
        changes["name"] = user.name = name.strip()
    if new_role != user.role:
        changes["role"] = new_role
        audit_record(
            actor=actor, action="user.role_changed", target=user.email, old=user.role, new=new_role
        )
        user.role = new_role
    if new_active != user.is_active:
        changes["is_active"] = new_active
        user.is_active = new_active
        user.deactivated_at = None if new_active else timezone.now()
        audit_record(
            actor=actor,
            action="user.reactivated" if new_active else "user.deactivated",
            target=user.email,
        )
        if not new_active:
            # A deactivated person's tokens stop working at once, not at next use.
            ApiKey.objects.filter(user=user, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
    if changes:
        user.save()
    return user


# Scopes each kind of token may carry; a scope never widens what the role allows.
ORGANIZATION_KEY_SCOPES = frozenset({Scope.READ, Scope.WRITE})
DEFAULT_SCOPES = (Scope.READ, Scope.WRITE)
SCOPE_ROLES = {
    Scope.SIGN: frozenset({Role.MARKETING_LEADER, Role.SALES_LEADER}),
    Scope.ADMIN: frozenset({Role.ADMIN}),
}
MAX_TOKEN_AGE = timedelta(days=366)
DEFAULT_EXPIRY = object()  # sentinel: the setting's default for the kind of token


def _scopes_clean(scopes, *, user: User | None) -> list[str]:
    chosen = list(dict.fromkeys(scopes if scopes is not None else DEFAULT_SCOPES))
    unknown = [scope for scope in chosen if scope not in Scope.values]
    if unknown:
        raise DomainError(
            f"Unknown scope “{unknown[0]}”. Choose from: {', '.join(Scope.values)}.",
            field="scopes",
        )
    if not chosen:
        raise DomainError("Give the token at least one scope.", field="scopes")
    if user is None:
        extra = [scope for scope in chosen if scope not in ORGANIZATION_KEY_SCOPES]
        if extra:
            raise DomainError(
                f"An organization API key acts as an integration: scopes read and write only, "
                f"not {extra[0]}.",
                field="scopes",
            )
    else:
        for scope, roles in SCOPE_ROLES.items():
            if scope in chosen and user.role not in roles:
                raise DomainError(
                    f"The {scope} scope is for {', '.join(sorted(roles))}; a "
                    f"{Role(user.role).label.lower()} cannot use it.",
                    field="scopes",
                )
    return sorted(chosen, key=Scope.values.index)


def _expiry_clean(expires_in, *, personal: bool) -> datetime | None:
    if expires_in is DEFAULT_EXPIRY:
        if not personal:
            return None
        expires_in = timedelta(days=settings.PERSONAL_TOKEN_MAX_AGE_DAYS)
    if expires_in is None:
        if personal:
            raise DomainError("A personal token must expire.", field="expires_in")
        return None
    if expires_in <= timedelta(0) or expires_in > MAX_TOKEN_AGE:
        raise DomainError("Choose an expiry between one minute and 366 days.", field="expires_in")
    return timezone.now() + expires_in


@transaction.atomic
def api_key_create(
    *,
    name: str,
    created_by: User | None,
    user: User | None = None,
    scopes=None,
    expires_in=DEFAULT_EXPIRY,
) -> tuple[ApiKey, str]:
    """Create a personal token (user given) or an organization key; the raw token is returned once.

    Scopes default to read and write; personal tokens expire after
    PERSONAL_TOKEN_MAX_AGE_DAYS unless told otherwise (``expires_in``, a timedelta, at
    most 366 days), organization keys never unless given an ``expires_in``.
    """
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the key a name, e.g. the system that will use it.", field="name")
    if user is not None and not user.is_active:
        raise DomainError(f"{user.email} is deactivated.", field="email")
    chosen = _scopes_clean(scopes, user=user)
    expires_at = _expiry_clean(expires_in, personal=user is not None)
    raw, prefix = token_generate()
    key = ApiKey.objects.create(
        kind=ApiKey.Kind.PERSONAL if user else ApiKey.Kind.ORGANIZATION,
        name=name[:100],
        user=user,
        prefix=prefix,
        key_hash=token_hash(raw),
        created_by=created_by if getattr(created_by, "pk", None) else None,
        scopes=chosen,
        expires_at=expires_at,
    )
    audit_record(
        actor=created_by,
        action="api_key.created",
        target=f"{key.name} ({prefix})",
        kind=key.kind,
        user=user.email if user else None,
        scopes=chosen,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None) -> ApiKey:
    """Revoke a key; it is rejected from the next request on (idempotent)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, action="api_key.revoked", target=f"{api_key.name} ({api_key.prefix})"
        )
    return api_key


def token_exchange(
    *,
    email: str,
    password: str,
    name: str = "",
    scopes=None,
    expires_in=DEFAULT_EXPIRY,
    otp: str = "",
    ip_address: str | None = None,
) -> tuple[ApiKey, str]:
    """Trade a user's email and password (and one-time code, with two-factor) for a personal token.

    Refused alike for an unknown email, a wrong password and a deactivated user, so the
    answer tells nothing about who has an account.
    """
    email = (email or "").strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None or not user.is_active or not user.check_password(password or ""):
        audit_record(actor=None, action="api_key.exchange_refused", target=email, ip=ip_address)
        raise NotAllowed("Wrong email or password.", field="non_field_errors")
    two_factor.require_code(user=user, code=otp)
    return api_key_create(
        name=name or f"Token for {user.email}",
        created_by=user,
        user=user,
        scopes=scopes,
        expires_in=expires_in,
    )


def organization_defaults_provision() -> None:
    """Create the defaults every new organization starts with (reason codes, calendar, …)."""
    for provision in provisioners():
        provision()


# --- sign-in lockout ----------------------------------------------------------------------

UNLOCK_SALT = "handoff.login-unlock"


def _unlock_offer_key(user: User) -> str:
    return f"unlock-offer:{connection.schema_name}:{user.pk}"


def login_unlock_offer(*, email: str) -> bool:
    """E-mail the owner of a locked-out account a link that lifts the lock (once per lockout).

    Says nothing to the person at the sign-in form: whether the address belongs to an
    account is not revealed. Returns whether a message was sent."""
    user = User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
    if user is None:
        return False
    lockout_seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if not cache.add(_unlock_offer_key(user), 1, timeout=lockout_seconds):
        return False
    token = signing.dumps({"u": user.pk, "s": connection.schema_name}, salt=UNLOCK_SALT)
    context = {
        "user": user,
        "link": _tenant_url(reverse("accounts:unlock", args=[token])),
        "organization": connection.tenant.name,
        "minutes": lockout_seconds // 60,
        "hours": settings.LOGIN_UNLOCK_MAX_AGE // 3600,
    }
    send_mail(
        subject=f"Sign-in to {connection.tenant.name} on Handoff was locked",
        message=render_to_string("accounts/email/login_unlock.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
    audit_record(actor=None, action="login.locked_out", target=user.email)
    return True


def login_unlock(*, token: str, ip_address: str | None) -> User | None:
    """Lift the sign-in lockout of the account an unlock link names (and of the address the
    link is opened from); None when the link is invalid or expired."""
    try:
        data = signing.loads(token, salt=UNLOCK_SALT, max_age=settings.LOGIN_UNLOCK_MAX_AGE)
    except signing.BadSignature:
        return None
    if data.get("s") != connection.schema_name:
        return None
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None:
        return None
    axes_reset(username=user.email)
    if ip_address:
        axes_reset(ip=ip_address)
    cache.delete(_unlock_offer_key(user))
    audit_record(actor=user, action="login.unlocked", target=user.email)
    return user
