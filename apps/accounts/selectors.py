"""Reads on people and keys."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import ApiKey, AuditEvent, User


def user_list(*, role: str | None = None, include_inactive: bool = True) -> QuerySet[User]:
    qs = User.objects.select_related("invitation").order_by("name", "email")
    if role:
        qs = qs.filter(role=role)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs


def _live(qs: QuerySet[ApiKey], active: bool | None) -> QuerySet[ApiKey]:
    live = Q(revoked_at__isnull=True) & (
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    if active is True:
        return qs.filter(live)
    if active is False:
        return qs.exclude(live)
    return qs


def organization_api_key_list(*, active: bool | None = None) -> QuerySet[ApiKey]:
    """Organization API keys, newest first; ``active`` True/False keeps live/revoked-or-expired."""
    qs = ApiKey.objects.filter(kind=ApiKey.Kind.ORGANIZATION).select_related("created_by")
    return _live(qs, active).order_by("-created_at", "-id")


def personal_token_list(*, user: User) -> QuerySet[ApiKey]:
    """The person's live tokens, newest first."""
    return _live(ApiKey.objects.filter(user=user), True).order_by("-created_at", "-id")


def audit_event_list(*, limit: int = 50) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor")[:limit]
