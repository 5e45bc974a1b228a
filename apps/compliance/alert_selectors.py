"""Reads of the alert outbox for the API and the scorecard: alerts, a person's notifications and
the escalation history of a commitment (episodes sent, and those found in back-filled history).

Every list is one query plus a fixed number of prefetches, whatever its length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from apps.compliance.alert_text import alert_message
from apps.compliance.models import Alert, AlertDelivery, AlertKind, Notification
from apps.compliance.periods import Period


@dataclass(frozen=True)
class AlertFilters:
    """What a list of alerts (or notifications) is narrowed to; None = no filter."""

    kind: str | None = None
    commitment_id: int | None = None
    lead_id: int | None = None
    period: Period | None = None
    found_in_backfill: bool | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None


def _in_period(period: Period, prefix: str = "") -> Q:
    """Commitment alerts of that review period; clock alerts whose clock fell due inside it."""
    return Q(
        **{f"{prefix}period_kind": period.kind.value, f"{prefix}period_start": period.first_day}
    ) | Q(
        **{
            f"{prefix}clock__due_at__gte": period.start,
            f"{prefix}clock__due_at__lt": period.end,
        }
    )


def _alert_filter(filters: AlertFilters, prefix: str = "") -> Q:
    q = Q()
    if filters.kind is not None:
        q &= Q(**{f"{prefix}kind": filters.kind})
    if filters.commitment_id is not None:
        q &= Q(**{f"{prefix}commitment_id": filters.commitment_id})
    if filters.lead_id is not None:
        q &= Q(**{f"{prefix}lead_id": filters.lead_id})
    if filters.period is not None:
        q &= _in_period(filters.period, prefix)
    if filters.found_in_backfill is not None:
        q &= Q(**{f"{prefix}found_in_backfill": filters.found_in_backfill})
    if filters.created_from is not None:
        q &= Q(**{f"{prefix}created_at__gte": filters.created_from})
    if filters.created_until is not None:
        q &= Q(**{f"{prefix}created_at__lt": filters.created_until})
    return q


def alert_list(
    *,
    filters: AlertFilters = AlertFilters(),
    recipient_id: int | None = None,
    read: bool | None = None,
) -> QuerySet[Alert]:
    """The organization's alerts, newest first, with their deliveries and in-app notifications.

    ``recipient_id``: only alerts addressed to that person (any channel); with ``read`` only
    those whose in-app notification that person has (not) read.
    """
    qs = (
        Alert.objects.filter(_alert_filter(filters))
        .select_related("lead", "clock", "commitment", "escalation_rule")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=AlertDelivery.objects.select_related("recipient").order_by("id"),
            ),
            Prefetch(
                "notifications",
                queryset=Notification.objects.select_related("recipient").order_by("id"),
            ),
        )
    )
    if recipient_id is not None:
        qs = qs.filter(
            Exists(AlertDelivery.objects.filter(alert=OuterRef("pk"), recipient_id=recipient_id))
        )
        if read is not None:
            qs = qs.filter(
                Exists(
                    Notification.objects.filter(
                        alert=OuterRef("pk"), recipient_id=recipient_id, read_at__isnull=not read
                    )
                )
            )
    return qs.order_by("-created_at", "-id")


def notifications_for(
    *,
    user,
    filters: AlertFilters = AlertFilters(),
    read: bool | None = None,
) -> QuerySet[Notification]:
    """A person's in-app notifications, newest first, narrowed by their alert's attributes."""
    qs = Notification.objects.filter(recipient=user).filter(_alert_filter(filters, "alert__"))
    if read is not None:
        qs = qs.filter(read_at__isnull=not read)
    return qs.select_related("alert").order_by("-created_at", "-id")


def escalation_history(
    *, commitment_ids: Iterable[int] | None = None, since: date | None = None
) -> QuerySet[Alert]:
    """Escalation episodes, newest period first: those sent, and those found in back-filled
    history (``found_in_backfill``: recorded, nobody notified)."""
    qs = Alert.objects.filter(kind=AlertKind.ESCALATION)
    if commitment_ids is not None:
        qs = qs.filter(commitment_id__in=list(commitment_ids))
    if since is not None:
        qs = qs.filter(period_start__gte=since)
    return (
        qs.select_related("commitment", "escalation_rule")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=AlertDelivery.objects.select_related("recipient").order_by("id"),
            )
        )
        .order_by("-period_start", "-id")
    )


@dataclass(frozen=True)
class EscalationLine:
    """One escalation episode as the scorecard lists it."""

    title: str
    period_label: str
    values: str
    found_in_backfill: bool
    notified: tuple[str, ...]  # emails the escalation went to (none for back-filled history)
    commitment_id: int | None


def recent_escalations(
    *, teams: Iterable[str] | None = None, limit: int = 8
) -> list[EscalationLine]:
    """The latest escalation episodes of the commitments a viewer may see (``teams`` None: all),
    for the scorecard: what fired, when, and whether anyone was told. Two queries."""
    qs = escalation_history()
    if teams is not None:
        qs = qs.filter(commitment__owner_team__in=list(teams))
    lines = []
    for alert in qs[:limit]:
        payload = alert.payload or {}
        message = alert_message(alert.kind, payload)
        lines.append(
            EscalationLine(
                title=message.title,
                period_label=payload.get("period_label", ""),
                values=message.body,
                found_in_backfill=alert.found_in_backfill,
                notified=tuple(
                    sorted({d.recipient.email for d in alert.deliveries.all() if d.recipient})
                ),
                commitment_id=alert.commitment_id,
            )
        )
    return lines
