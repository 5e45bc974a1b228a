"""Reads of the ICP: revisions, the current profile, fit of leads, insights from closed deals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least, NullIf

from apps.icp.fit import FitResult, IcpCriteria, criteria_from_dict, evaluate_fit
from apps.icp.models import APPROVER_ROLES, IcpApproval, IcpRevision
from apps.leads.models import Lead, Stage
from apps.mql.rules import lead_fields


def icp_revision_list() -> QuerySet[IcpRevision]:
    """Revisions newest first, with author and approvals (two queries however many)."""
    return (
        IcpRevision.objects.select_related("author")
        .prefetch_related(
            Prefetch("approvals", queryset=IcpApproval.objects.select_related("approver"))
        )
        .order_by("-number")
    )


def icp_current() -> IcpRevision | None:
    """The profile in force: the newest revision both leaders approved, else the newest one."""
    return (
        IcpRevision.objects.with_approving_roles()
        .annotate(
            is_approved=Case(
                When(approving_roles=len(APPROVER_ROLES), then=Value(1)),
                default=Value(0),
            )
        )
        .order_by("-is_approved", "-number")
        .first()
    )


def icp_criteria(revision: IcpRevision | None) -> IcpCriteria:
    """The revision's firmographics for fit.py; stored criteria were validated when saved."""
    if revision is None:
        return IcpCriteria()
    try:
        return criteria_from_dict(revision.criteria or {})
    except ValueError:
        return IcpCriteria()


def fit_for_leads(
    *, leads: Iterable[Lead], revision: IcpRevision | None = None
) -> dict[int, FitResult]:
    """Fit of each lead against the current ICP revision: one query for the ICP, none per lead."""
    criteria = icp_criteria(revision if revision is not None else icp_current())
    return {lead.pk: evaluate_fit(criteria, fields=lead_fields(lead)) for lead in leads}


# --- insights from closed deals ----------------------------------------------

SIZE_BANDS = (
    (1, 49, "1–49"),
    (50, 199, "50–199"),
    (200, 999, "200–999"),
    (1000, 4999, "1,000–4,999"),
    (5000, None, "5,000+"),
)
INSIGHT_DIMENSIONS = {
    "industry": "Industry",
    "size_band": "Company size",
    "region": "Region",
    "source": "Source",
}
UNKNOWN = "(unknown)"


def _dimension_expression(dimension: str):
    if dimension == "size_band":
        whens = [
            When(
                Q(company_size__gte=low) & (Q(company_size__lte=high) if high else Q()),
                then=Value(label),
            )
            for low, high, label in SIZE_BANDS
        ]
        return Case(*whens, default=Value(UNKNOWN), output_field=CharField())
    if dimension == "region":
        # A lead's region name when the CRM sends one, else its country code.
        return Coalesce(NullIf("region", Value("")), NullIf("country", Value("")), Value(UNKNOWN))
    if dimension in ("industry", "source"):
        return Coalesce(NullIf(dimension, Value("")), Value(UNKNOWN))
    raise ValueError(f"unknown dimension {dimension!r}")


def icp_insights(*, dimension: str, closed_since: datetime | None = None) -> list[dict]:
    """Closed deals grouped by one dimension, in one query.

    Per group: deals (won + lost), won, win_rate (0-1), average won amount, and the
    average cycle in days from the first time we knew the lead (its earliest stage
    time) to the close. Groups sorted by deals, largest first.
    """
    won = Q(stage=Stage.WON)
    deals = Lead.objects.filter(stage__in=(Stage.WON, Stage.LOST), closed_at__isnull=False)
    if closed_since is not None:
        deals = deals.filter(closed_at__gte=closed_since)
    started = Least("created_at", "mql_at", "sql_at", "opportunity_at")
    rows = (
        deals.annotate(key=_dimension_expression(dimension))
        .values("key")
        .annotate(
            deals=Count("id"),
            won=Count("id", filter=won),
            won_amount=Sum("amount", filter=won),
            avg_won_amount=Avg("amount", filter=won),
            avg_cycle=Avg(
                ExpressionWrapper(F("closed_at") - started, output_field=DurationField()),
                filter=won,
            ),
        )
        .order_by("-deals", "key")
    )
    return [
        {
            "key": row["key"],
            "deals": row["deals"],
            "won": row["won"],
            "win_rate": row["won"] / row["deals"] if row["deals"] else None,
            "won_amount": row["won_amount"],
            "avg_won_amount": row["avg_won_amount"],
            "avg_cycle_days": row["avg_cycle"].total_seconds() / 86400
            if row["avg_cycle"] is not None
            else None,
        }
        for row in rows
    ]
