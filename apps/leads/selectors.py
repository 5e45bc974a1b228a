"""Reads on leads: who may see which lead, the filtered list, the timeline, import previews."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.leads import csv_rows
from apps.leads.models import Activity, Assignment, ImportJob, Lead, RoutingRule, StageChange

TIMELINE_LIMIT = 500
UNASSIGNED = "none"


def lead_visible_list(*, user) -> QuerySet[Lead]:
    """The leads a caller may read: all of them, except that a rep sees only their own."""
    leads = Lead.objects.select_related("owner")
    if getattr(user, "role", None) == Role.REP:
        return leads.filter(owner_id=user.pk)
    return leads


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class LeadFilters:
    """The lead list's filters (all optional; dates are inclusive days in the active time zone)."""

    stages: tuple[str, ...] = ()
    owner: str | None = None  # a user id, or "none" for unassigned
    source: str | None = None
    campaign: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    mql_from: date | None = None
    mql_to: date | None = None
    q: str | None = None
    external_id: str | None = None
    updated_since: datetime | None = None


def lead_list(*, user, filters: LeadFilters | None = None) -> QuerySet[Lead]:
    """The caller's visible leads narrowed by the filters, newest first."""
    f = filters or LeadFilters()
    leads = lead_visible_list(user=user)
    if f.stages:
        leads = leads.filter(stage__in=f.stages)
    if f.owner == UNASSIGNED:
        leads = leads.filter(owner__isnull=True)
    elif f.owner:
        leads = leads.filter(owner_id=f.owner)
    if f.source:
        leads = leads.filter(source=f.source)
    if f.campaign:
        leads = leads.filter(campaign=f.campaign)
    if f.created_from:
        leads = leads.filter(created_at__gte=_day_start(f.created_from))
    if f.created_to:
        leads = leads.filter(created_at__lt=_day_start(f.created_to + timedelta(days=1)))
    if f.mql_from:
        leads = leads.filter(mql_at__gte=_day_start(f.mql_from))
    if f.mql_to:
        leads = leads.filter(mql_at__lt=_day_start(f.mql_to + timedelta(days=1)))
    if f.external_id:
        leads = leads.filter(external_id=f.external_id)
    if f.updated_since:
        leads = leads.filter(updated_at__gte=f.updated_since)
    for term in (f.q or "").split()[:5]:
        leads = leads.filter(
            Q(email__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(company__icontains=term)
            | Q(external_id__iexact=term)
        )
    return leads.order_by("-created_at", "-id")


def lead_filter_choices(*, user) -> dict[str, list]:
    """Values offered by the list's filter menus: sources, campaigns and owners in use."""
    visible = lead_visible_list(user=user).order_by()
    return {
        "sources": list(
            visible.exclude(source="")
            .values_list("source", flat=True)
            .distinct()
            .order_by("source")[:200]
        ),
        "campaigns": list(
            visible.exclude(campaign="")
            .values_list("campaign", flat=True)
            .distinct()
            .order_by("campaign")[:200]
        ),
        "owners": list(
            User.objects.filter(role__in=[Role.REP, Role.SALES_LEADER]).order_by("name")
        ),
    }


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # activity | stage_change | assignment | created
    at: datetime
    title: str
    detail: str = ""
    actor: str = ""
    family: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    external_id: str = ""


def _activity_detail(activity: Activity) -> str:
    properties = activity.properties or {}
    for key in ("url", "path", "form", "asset", "webinar", "subject", "campaign", "event"):
        if properties.get(key):
            return str(properties[key])
    return activity.note


def lead_timeline(*, lead: Lead, limit: int = TIMELINE_LIMIT) -> list[TimelineEntry]:
    """Activities, stage changes and assignments of a lead, newest first (three queries)."""
    entries = [
        TimelineEntry(
            kind="activity",
            at=a.occurred_at,
            title=a.get_kind_display(),
            detail=_activity_detail(a),
            actor=str(a.actor) if a.actor else "",
            family=a.family,
            properties=a.properties or {},
            external_id=a.external_id,
        )
        for a in Activity.objects.filter(lead=lead)
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:limit]
    ]
    entries += [
        TimelineEntry(
            kind="stage_change",
            at=s.occurred_at,
            title=f"Stage {s.get_from_stage_display() or '—'} → {s.get_to_stage_display()}",
            detail=f"via {s.channel}" if s.channel else "",
            actor=str(s.actor) if s.actor else "",
        )
        for s in StageChange.objects.filter(lead=lead).select_related("actor")[:limit]
    ]
    entries += [
        TimelineEntry(
            kind="assignment",
            at=a.assigned_at,
            title=f"Assigned to {a.owner or 'a removed user'}",
            detail=a.reason or (f"Rule “{a.rule.name}”" if a.rule else ""),
            actor=str(a.assigned_by) if a.assigned_by else "",
        )
        for a in Assignment.objects.filter(lead=lead).select_related(
            "owner", "rule", "assigned_by"
        )[:limit]
    ]
    entries.append(TimelineEntry(kind="created", at=lead.created_at, title="Lead created"))
    return sorted(entries, key=lambda e: e.at, reverse=True)


def routing_rule_list() -> list[RoutingRule]:
    """Rules in evaluation order with their pools and how many leads each routed in 30 days."""
    since = timezone.now() - timedelta(days=30)
    return list(
        RoutingRule.objects.prefetch_related("pool")
        .annotate(recent=Count("assignments", filter=Q(assignments__assigned_at__gte=since)))
        .order_by("is_fallback", "position", "pk")
    )


def routing_pool_candidates() -> QuerySet[User]:
    """People who can be put in a routing pool: active reps and sales leaders."""
    return User.objects.filter(is_active=True, role__in=[Role.REP, Role.SALES_LEADER]).order_by(
        "name"
    )


def import_job_list(*, limit: int = 20) -> QuerySet[ImportJob]:
    return ImportJob.objects.select_related("created_by").defer("content", "row_errors")[:limit]


@dataclass(frozen=True)
class ImportPreview:
    headers: list[str]
    rows: list[csv_rows.CsvRow]
    problem_rows: int


def import_preview(*, job: ImportJob, encoding: str | None = None, limit: int = 8) -> ImportPreview:
    """The first rows of an upload as the import will read them, and how many rows are unreadable."""
    text = csv_rows.decode(bytes(job.content), encoding or job.encoding)
    headers, rows = csv_rows.read_rows(text, job.delimiter)
    sample, problems = [], 0
    for row in rows:
        if len(sample) < limit:
            sample.append(row)
        if row.problem:
            problems += 1
    return ImportPreview(headers=headers, rows=sample, problem_rows=problems)
