"""Reads on people and keys."""

from django.db.models import QuerySet

from apps.accounts.models import ApiKey, AuditEvent, User


def user_list(*, role: str | None = None, include_inactive: bool = True) -> QuerySet[User]:
    qs = User.objects.select_related("invitation").order_by("name", "email")
    if role:
        qs = qs.filter(role=role)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs


def organization_api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(kind=ApiKey.Kind.ORGANIZATION).select_related("created_by")


def personal_token_current(*, user: User) -> ApiKey | None:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at").first()


def audit_event_list(*, limit: int = 50) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor")[:limit]
