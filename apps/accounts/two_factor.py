"""Optional TOTP two-factor sign-in for everyone, required for leaders and admins when the
organization says so (Organization.two_factor_required).

Enrolment: a new secret, shown as a QR code rendered here as inline SVG (segno; no
CDN, no image library) and as text, confirmed by a first code; ten recovery codes are
then shown once and stored hashed. A code is accepted within one 30-second step either
side of now, once: the device remembers the last step used. A recovery code works once.

Used by the login view (a second step after the password), by the password-to-token
exchange (which takes the code as ``otp``) and by the profile page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.models import RecoveryCode, TwoFactorDevice, User
from apps.accounts.roles import ADMINS, LEADERS

ISSUER = "Handoff"
RECOVERY_CODES = 10
# Roles the organization setting applies to.
REQUIRED_ROLES = LEADERS | ADMINS


class TwoFactorRequired(NotAllowed):
    """A one-time code is needed (403), or the person must enrol first."""


def _tenant():
    return getattr(connection, "tenant", None)


def is_required(user: User) -> bool:
    """Whether this person must use two-factor (their organization requires it for their role)."""
    tenant = _tenant()
    return bool(getattr(tenant, "two_factor_required", False)) and user.role in REQUIRED_ROLES


def device_of(user: User) -> TwoFactorDevice | None:
    return TwoFactorDevice.objects.filter(user=user).first()


def is_enabled(user: User) -> bool:
    return TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


@transaction.atomic
def enrolment_start(*, user: User) -> TwoFactorDevice:
    """A fresh, unconfirmed secret for the person (replacing an unconfirmed one)."""
    device = TwoFactorDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed_at is not None:
        raise Conflict("Two-factor is already on. Turn it off first to change the app.")
    if device is None:
        device = TwoFactorDevice(user=user)
    device.secret = pyotp.random_base32()
    device.last_step = 0
    device.created_at = timezone.now()
    device.save()
    return device


def provisioning_uri(device: TwoFactorDevice) -> str:
    """The otpauth:// URI authenticator apps read from the QR code."""
    tenant = _tenant()
    issuer = f"{ISSUER} ({tenant.name})" if getattr(tenant, "name", None) else ISSUER
    return pyotp.TOTP(device.secret).provisioning_uri(name=device.user.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (dark modules on a transparent background)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#111")


def _step_matching(device: TwoFactorDevice, code: str, now: datetime) -> int | None:
    """The time step (±1 around now) whose TOTP equals ``code``, or None."""
    code = (code or "").replace(" ", "").strip()
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(device.secret)
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _recovery_codes_issue(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=_code_hash(code)) for code in codes
    )
    return codes


@transaction.atomic
def enrolment_confirm(*, user: User, code: str, now: datetime | None = None) -> list[str]:
    """Turn two-factor on with a first code from the app; returns the recovery codes (shown once)."""
    device = TwoFactorDevice.objects.select_for_update().filter(user=user).first()
    if device is None:
        raise DomainError("Start by scanning the QR code.", field="code")
    if device.confirmed_at is not None:
        raise Conflict("Two-factor is already on.", field="code")
    step = _step_matching(device, code, now or timezone.now())
    if step is None:
        raise DomainError(
            "That code does not match. Check the app's clock and enter the current code.",
            field="code",
        )
    device.confirmed_at = now or timezone.now()
    device.last_step = step
    device.save(update_fields=["confirmed_at", "last_step"])
    audit_record(actor=user, action="two_factor.enabled", target=user.email)
    return _recovery_codes_issue(user)


@transaction.atomic
def code_verify(*, user: User, code: str, now: datetime | None = None) -> bool:
    """Accept a current, unused TOTP code or an unused recovery code (which is then spent)."""
    device = TwoFactorDevice.objects.select_for_update().filter(user=user).first()
    if device is None or device.confirmed_at is None:
        return False
    step = _step_matching(device, code, now or timezone.now())
    if step is not None:
        if step <= device.last_step:
            return False  # already used: no replay
        device.last_step = step
        device.save(update_fields=["last_step"])
        return True
    spent = RecoveryCode.objects.filter(
        user=user, code_hash=_code_hash(code or ""), used_at__isnull=True
    ).update(used_at=now or timezone.now())
    return spent == 1


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@transaction.atomic
def disable(*, user: User, password: str, code: str) -> None:
    """Turn two-factor off (password and a code); refused while the organization requires it."""
    if is_required(user):
        raise Conflict(
            "Your organization requires two-factor for your role: it cannot be turned off.",
            field="code",
        )
    if not user.check_password(password or ""):
        raise DomainError("That is not your password.", field="password")
    if not code_verify(user=user, code=code):
        raise DomainError("That code does not match.", field="code")
    TwoFactorDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    audit_record(actor=user, action="two_factor.disabled", target=user.email)


def require_code(*, user: User, code: str) -> None:
    """For sign-ins without the browser: pass when no code is needed or the code is good."""
    if is_enabled(user):
        if not code:
            raise TwoFactorRequired(
                "This account uses two-factor: send the current code from the "
                "authenticator app as `otp`.",
                field="otp",
            )
        if not code_verify(user=user, code=code):
            raise TwoFactorRequired("That one-time code does not match.", field="otp")
        return
    if is_required(user):
        raise TwoFactorRequired(
            "Your organization requires two-factor for your role: sign in once in the "
            "browser to set it up, then send the app's code as `otp`.",
            field="otp",
        )


@transaction.atomic
def policy_set(*, required: bool, actor: User) -> None:
    """Require (or stop requiring) two-factor for the organization's leaders and admins."""
    tenant = _tenant()
    if actor.role not in ADMINS:
        raise NotAllowed("Only an admin can change the two-factor policy.")
    if bool(tenant.two_factor_required) == required:
        return
    type(tenant).objects.filter(pk=tenant.pk).update(two_factor_required=required)
    tenant.two_factor_required = required
    audit_record(
        actor=actor,
        action="two_factor.required" if required else "two_factor.optional",
        target=tenant.name,
    )
