"""Glue between django-axes and our services: who an attempt is for, and what a lockout does.

django-axes counts failed sign-ins per account and per client address (settings
AXES_*) in the organization's schema and refuses further tries while locked; when it
locks, the account's owner is offered an unlock link by e-mail.
"""

from axes.signals import user_locked_out
from django.dispatch import receiver

from apps.accounts.services import login_unlock_offer


def attempt_username(request, credentials: dict | None) -> str:
    """The account an attempt is for, as stored (emails are lower-case)."""
    return str((credentials or {}).get("username") or "").strip().lower()


@receiver(user_locked_out, dispatch_uid="handoff.login_unlock_offer")
def offer_unlock(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    if username:
        login_unlock_offer(email=username)
