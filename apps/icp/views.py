"""Pages of the ICP: the profile and its revisions, the editor, comparison, approval, insights."""

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.access import roles_required
from apps.accounts.exceptions import DomainError
from apps.accounts.roles import ALL_ROLES, Role
from apps.icp import selectors, services
from apps.icp.comparison import compare_revisions
from apps.icp.forms import IcpRevisionForm
from apps.icp.models import APPROVER_ROLES, IcpRevision

EDITORS = tuple(services.EDITOR_ROLES)
INSIGHT_PERIODS = {"90": 90, "365": 365, "all": None}


def _content(revision: IcpRevision) -> dict:
    return {
        "criteria": revision.criteria,
        "triggers": revision.triggers,
        "pains": revision.pains,
        "watering_holes": revision.watering_holes,
        "personas": revision.personas,
    }


@roles_required(*ALL_ROLES)
def profile(request: HttpRequest) -> HttpResponse:
    revisions = list(selectors.icp_revision_list()[:50])
    current = selectors.icp_current()
    return render(
        request,
        "icp/profile.html",
        {
            "current": current,
            "revision": current,
            "revisions": revisions,
            "can_edit": request.user.role in services.EDITOR_ROLES,
            "can_approve": request.user.role in APPROVER_ROLES,
        },
    )


@roles_required(*ALL_ROLES)
def revision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    revision = get_object_or_404(selectors.icp_revision_list(), pk=pk)
    current = selectors.icp_current()
    return render(
        request,
        "icp/revision_detail.html",
        {
            "revision": revision,
            "current": current,
            "can_approve": request.user.role in APPROVER_ROLES,
        },
    )


@roles_required(*EDITORS)
def revision_create(request: HttpRequest) -> HttpResponse:
    latest = IcpRevision.objects.order_by("-number").first()
    form = IcpRevisionForm(request.POST or None, initial=IcpRevisionForm.initial_from(latest))
    if request.method == "POST" and form.is_valid():
        try:
            revision = services.icp_revision_create(author=request.user, **form.revision_input())
        except DomainError as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, exc.message)
        else:
            messages.success(request, f"Saved as revision {revision.number}.")
            return redirect("icp:revision_detail", pk=revision.pk)
    personas = form.personas or [{}]
    return render(
        request, "icp/revision_form.html", {"form": form, "personas": personas, "latest": latest}
    )


@roles_required(*EDITORS)
def persona_blank(request: HttpRequest) -> HttpResponse:
    """An empty persona card for the editor (htmx appends it; no page reload)."""
    try:
        index = max(0, int(request.GET.get("index", "0")))
    except ValueError:
        index = 0
    return render(request, "icp/revision_form.html#persona", {"persona": {}, "index": index})


@roles_required(Role.MARKETING_LEADER, Role.SALES_LEADER)
@require_POST
def revision_approve(request: HttpRequest, pk: int) -> HttpResponse:
    revision = get_object_or_404(IcpRevision, pk=pk)
    try:
        services.icp_revision_approve(revision=revision, approver=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"You approved revision {revision.number}.")
    return redirect("icp:revision_detail", pk=pk)


@roles_required(*ALL_ROLES)
def compare(request: HttpRequest) -> HttpResponse:
    revisions = list(IcpRevision.objects.order_by("-number").select_related("author"))
    by_pk = {str(r.pk): r for r in revisions}
    left = by_pk.get(request.GET.get("a", ""))
    right = by_pk.get(request.GET.get("b", ""))
    if left is None and len(revisions) > 1:
        left = revisions[1]
    if right is None and revisions:
        right = revisions[0]
    rows = compare_revisions(_content(left), _content(right)) if left and right else []
    return render(
        request,
        "icp/compare.html",
        {"revisions": revisions, "left": left, "right": right, "rows": rows},
    )


@roles_required(*ALL_ROLES)
def insights(request: HttpRequest) -> HttpResponse:
    dimension = request.GET.get("dimension", "industry")
    if dimension not in selectors.INSIGHT_DIMENSIONS:
        dimension = "industry"
    period = request.GET.get("period", "365")
    if period not in INSIGHT_PERIODS:
        period = "365"
    days = INSIGHT_PERIODS[period]
    since = timezone.now() - timedelta(days=days) if days else None
    rows = selectors.icp_insights(dimension=dimension, closed_since=since)
    totals = {
        "deals": sum(r["deals"] for r in rows),
        "won": sum(r["won"] for r in rows),
    }
    totals["win_rate"] = totals["won"] / totals["deals"] if totals["deals"] else None
    context = {
        "rows": rows,
        "totals": totals,
        "dimension": dimension,
        "dimensions": selectors.INSIGHT_DIMENSIONS.items(),
        "period": period,
        "periods": [("90", "Last 90 days"), ("365", "Last 12 months"), ("all", "All time")],
        "current": selectors.icp_current(),
    }
    template = "icp/insights.html#table" if request.htmx else "icp/insights.html"
    return render(request, template, context)
