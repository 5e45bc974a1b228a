"""Reads on people and keys."""

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
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


def audit_event_list(
    *,
    actor_id: int | None = None,
    system_only: bool = False,
    prefixes: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    search: str = "",
) -> QuerySet[AuditEvent]:
    """Audit events, newest first, filtered by person (or the system and API keys), by kind
    (code prefixes), by time [since, until) and by words in what they were about."""
    events = AuditEvent.objects.select_related("actor").order_by("-occurred_at", "-id")
    if system_only:
        events = events.filter(actor__isnull=True)
    elif actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if prefixes:
        kind = Q()
        for prefix in prefixes:
            kind |= Q(action__startswith=prefix)
        events = events.filter(kind)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    words = search.split()[:5]
    if words:
        events = events.annotate(detail_text=Cast("detail", TextField()))
    for word in words:
        events = events.filter(
            Q(target__icontains=word)
            | Q(action__icontains=word)
            | Q(detail_text__icontains=word)
            | Q(actor__name__icontains=word)
            | Q(actor__email__icontains=word)
        )
    return events


def audit_people() -> QuerySet[User]:
    """Everyone who appears in the audit log as its author, for the person filter."""
    return User.objects.filter(
        pk__in=AuditEvent.objects.filter(actor__isnull=False).values("actor_id")
    ).order_by("name", "email")
