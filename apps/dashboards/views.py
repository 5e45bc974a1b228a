"""Dashboard pages: scorecard, charts, drill-down, review reports, marketing spend."""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.access import roles_required, user_may_open
from apps.accounts.csv_export import csv_lines
from apps.accounts.exceptions import DomainError
from apps.accounts.roles import ALL_ROLES, Capability, Role, roles_for
from apps.compliance.alert_selectors import recent_escalations
from apps.compliance.periods import following, previous
from apps.compliance.selectors import compliance_scope
from apps.dashboards import catalog, landing, reports, selectors, services, snapshots
from apps.dashboards import drilldown as drilldown_columns
from apps.dashboards.forms import SpendForm
from apps.dashboards.models import MarketingSpend, ReportKind, ReportSubscription
from apps.dashboards.scope import (
    PERIOD_CHOICES,
    TEAM_CHOICES,
    Scope,
    ScopeError,
    period_from_token,
    period_token,
    scope_from_params,
)
from apps.dashboards.slices import BASES, CommitmentSlice
from apps.dashboards.tiles import commitment_title
from apps.sla.models import CLOCK_METRICS

REPORT_ROLES = services.REPORT_ROLES
# The executive reads the spend (everything read-only); entering it is marketing's.
SPEND_EDITORS = roles_for(Capability.ENTER_SPEND)
SPEND_ROLES = SPEND_EDITORS | roles_for(Capability.READ_ALL)
DRILLDOWN_PAGE_SIZE = 50
# CSV export of a drill-down list: enough for any meeting, bounded for the server.
DRILLDOWN_CSV_LIMIT = 10_000


def _owner_filter(request: HttpRequest) -> int | None:
    """Reps see their own leads and numbers only."""
    return request.user.pk if request.user.role == Role.REP else None


def _scope(request: HttpRequest, *, default_choice: str = "this_week") -> tuple[Scope, str | None]:
    """The scope from the query string; on a bad value, the default scope and the message."""
    tz = selectors.organization_timezone()
    now = timezone.now()
    try:
        scope = scope_from_params(
            request.GET,
            now=now,
            tz=tz,
            owner_id=_owner_filter(request),
            default_choice=default_choice,
        )
        return scope, None
    except ScopeError as exc:
        scope = scope_from_params(
            {}, now=now, tz=tz, owner_id=_owner_filter(request), default_choice=default_choice
        )
        return scope, exc.message


def _figure_json(chart: selectors.ChartData) -> str:
    # plotly's own encoder (numpy arrays, dates); the template puts it in a data attribute.
    return chart.figure.to_json()


def _optional_link(user, url_name: str, label: str) -> dict | None:
    """A link to another app's page when that page exists and the user's role may open it."""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return None
    return {"url": url, "label": label} if user_may_open(user, url_name) else None


def _first_link(user, candidates: list[tuple[str, str]]) -> dict | None:
    for name, label in candidates:
        link = _optional_link(user, name, label)
        if link:
            return link
    return None


def _filter_context(scope: Scope, error: str | None) -> dict:
    return {
        "scope": scope,
        "scope_query": urlencode(scope.params()),
        "period_choices": PERIOD_CHOICES,
        "team_choices": TEAM_CHOICES,
        "sources": selectors.source_list(),
        "scope_error": error,
    }


@roles_required(*ALL_ROLES)
def scorecard(request: HttpRequest) -> HttpResponse:
    """The first screen: one tile per commitment, grouped by team, refreshed by htmx polling."""
    scope, error = _scope(request)
    role = request.user.role
    # An open period organization-wide: the sweep's latest snapshots, while fresh.
    card = selectors.scorecard(scope=scope, viewer=request.user, latest=True)
    context = {"card": card, **_filter_context(scope, error)}
    if request.htmx:
        return render(request, "dashboards/scorecard.html#tiles", context)
    extras: dict = {}
    if role in (Role.EXECUTIVE, Role.ADMIN, Role.SALES_LEADER):
        extras["at_risk"] = selectors.pipeline_at_risk(scope, results=card.results, latest=True)
    if role in (Role.MARKETING_LEADER, Role.MARKETER, Role.EXECUTIVE):
        # Stored like the charts page's (apps/dashboards/snapshots.py).
        sources = snapshots.chart_read("mql-to-sql-source", scope=scope, role=role).data
        extras["sources_chart"] = {"chart": sources, "figure": _figure_json(sources)}
        extras["feedback_link"] = _first_link(
            request.user,
            [("dispositions:feedback", "Sales feedback on MQLs")],
        )
    if role in (Role.SALES_LEADER, Role.EXECUTIVE):
        extras["rep_rows"] = selectors.rep_compliance(scope, results=card.results)
        extras["queue_link"] = _first_link(
            request.user,
            [("dispositions:team_queue", "Team queue")],
        )
    if role == Role.REP:
        extras["queue_link"] = _first_link(
            request.user,
            [("dispositions:queue", "My queue"), ("dispositions:my_queue", "My queue")],
        )
    if role != Role.REP:  # reps read their own compliance, not the organization's escalations
        extras["escalations"] = recent_escalations(teams=compliance_scope(request.user).teams)
    context.update(extras)
    context["reports_link"] = user_may_open(request.user, "dashboards:reports")
    return render(request, "dashboards/scorecard.html", context)


@roles_required(*ALL_ROLES)
def chart_list(request: HttpRequest) -> HttpResponse:
    """Every chart the role may see, for the picked period; each element drills down."""
    scope, error = _scope(request, default_choice="this_quarter")
    role = request.user.role
    specs = catalog.charts_for_role(role)
    names = [spec.name for spec in specs]
    if role != Role.REP:
        names.append(snapshots.AT_RISK)
    # Stored chart data (one query); missing or outdated charts are computed here.
    stored = snapshots.charts_read(names, scope=scope)
    by_name = {item.data.name: item for item in stored}
    panels = [
        {
            "spec": spec,
            "chart": by_name[spec.name].data,
            "figure": _figure_json(by_name[spec.name].data),
        }
        for spec in specs
    ]
    at_risk = by_name[snapshots.AT_RISK].data.points[0] if snapshots.AT_RISK in by_name else None
    return render(
        request,
        "dashboards/charts.html",
        {
            "panels": panels,
            "at_risk": at_risk,
            # The oldest moment any number on the page describes.
            "figures_as_of": min(item.as_of for item in stored),
            "figures_live": scope.is_open,
            **_filter_context(scope, error),
        },
    )


def _slice_title(found, slice_) -> str:
    if isinstance(slice_, CommitmentSlice):
        outcome = {"all": "all leads", "met": "met", "missed": "missed", "pending": "pending"}[
            slice_.outcome
        ]
        return f"{commitment_title(found)} — {outcome}, {slice_.period.label}"
    parts = [f"{BASES[slice_.basis]}: {slice_.period.label}"]
    if slice_.source is not None:
        parts.append(f"source {slice_.source or '(none)'}")
    if slice_.campaign is not None:
        parts.append(f"campaign {slice_.campaign or '(none)'}")
    if slice_.reached:
        parts.append(
            f"reached {slice_.reached.upper() if len(slice_.reached) == 3 else slice_.reached}"
        )
    if slice_.response:
        parts.append(f"first contact {slice_.response}")
    if slice_.hours is not None:
        low, high = slice_.hours
        parts.append(f"first contact {low:g}–{'' if high is None else f'{high:g}'} business h")
    if slice_.reason_id is not None:
        parts.append("no reason given" if slice_.reason_id == 0 else "one rejection reason")
    return " · ".join(parts)


@roles_required(*ALL_ROLES)
def drilldown(request: HttpRequest) -> HttpResponse:
    """The leads behind a number: the same filter the tile or chart element counted with, and
    the columns that explain it (outcome, due, done, time taken, owner), sortable, as CSV."""
    if not request.GET.get("period"):
        return render(request, "dashboards/drilldown.html", {"missing": True}, status=400)
    owner_id = _owner_filter(request)
    try:
        slice_, found, leads = selectors.drilldown(
            request.GET,
            owner_id=owner_id,
            tz=selectors.organization_timezone(),
            now=timezone.now(),
        )
    except ScopeError as exc:
        return render(
            request,
            "dashboards/drilldown.html",
            {"error": exc.message, "field": exc.field},
            status=400,
        )
    title = _slice_title(found, slice_)
    columns = drilldown_columns.columns_for(found)
    leads = drilldown_columns.annotate(
        leads,
        commitment=found,
        period=slice_.period,
        as_of=slice_.as_of,
        owner_id=owner_id if owner_id is not None else getattr(slice_, "owner_id", None),
    )
    leads, sort = drilldown_columns.ordered(
        leads, columns, request.GET.get("sort", ""), drilldown_columns.default_sort(found)
    )
    if request.GET.get("format") == "csv":
        return _leads_csv(
            leads[:DRILLDOWN_CSV_LIMIT],
            commitment=found,
            filename=f"leads-{period_token(slice_.period).replace(':', '-')}.csv",
        )
    page = Paginator(leads, DRILLDOWN_PAGE_SIZE).get_page(request.GET.get("page"))
    took = drilldown_columns.took_text(page.object_list, commitment=found)
    query = request.GET.copy()
    for key in ("page", "sort", "format"):
        query.pop(key, None)
    return render(
        request,
        "dashboards/drilldown.html",
        {
            "title": title,
            "slice": slice_,
            "page": page,
            "rows": [{"lead": lead, "took": took.get(lead.pk, "")} for lead in page.object_list],
            "columns": columns,
            "sort": sort,
            "query": query.urlencode(),
            "clock_list": found is not None and found.metric in CLOCK_METRICS,
            "tz": selectors.organization_timezone(),
        },
    )


def _leads_csv(leads, *, commitment, filename: str) -> StreamingHttpResponse:
    """The drill-down as a spreadsheet: the page's columns plus contact details, every cell
    formula-safe, times in the organization's zone."""
    leads = list(leads)
    took = drilldown_columns.took_text(leads, commitment=commitment)
    clock = commitment is not None and commitment.metric in CLOCK_METRICS

    def when(moment) -> str:
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""

    header = ["id", "name", "email", "company", "source", "campaign", "owner", "stage", "mql_at"]
    header += (
        ["due_at", "done_at", "time_taken", "outcome"]
        if clock
        else [
            "first_contact_at",
            "time_to_first_contact",
            "sql_at",
            "amount",
        ]
    )

    def rows():
        for lead in leads:
            row = [
                lead.pk,
                lead.full_name,
                lead.email,
                lead.company,
                lead.source,
                lead.campaign,
                str(lead.owner) if lead.owner else "",
                lead.stage,
                when(lead.mql_at),
            ]
            if clock:
                row += [
                    when(lead.clock_due_at),
                    when(lead.clock_met_at),
                    took.get(lead.pk, ""),
                    lead.outcome,
                ]
            else:
                row += [
                    when(lead.first_touch_at),
                    took.get(lead.pk, ""),
                    when(lead.sql_at),
                    lead.amount if lead.amount is not None else "",
                ]
            yield row

    response = StreamingHttpResponse(
        csv_lines(header, rows()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- reports ------------------------------------------------------------------------------


@roles_required(*REPORT_ROLES)
def report_list(request: HttpRequest) -> HttpResponse:
    subscribed = set(
        ReportSubscription.objects.filter(user=request.user, is_active=True).values_list(
            "report", flat=True
        )
    )
    items = [
        {
            "kind": kind,
            "label": label,
            "url": reverse(f"dashboards:{kind}"),
            "subscribed": kind in subscribed,
        }
        for kind, label in ReportKind.choices
    ]
    return render(request, "dashboards/reports.html", {"items": items})


def _report_page(request: HttpRequest, kind: str) -> HttpResponse:
    tz = selectors.organization_timezone()
    now = timezone.now()
    token = request.GET.get("period")
    error = None
    period = reports.default_period(kind, now=now, tz=tz)
    if token:
        try:
            candidate = period_from_token(token, tz=tz)
        except ScopeError as exc:
            error = exc.message
        else:
            if candidate.kind != reports.PERIOD_KIND[ReportKind(kind)]:
                error = f"This report covers a {reports.PERIOD_KIND[ReportKind(kind)]}."
            else:
                period = candidate
    report = reports.build_report(kind, period=period, now=now, tz=tz)
    table_key = request.GET.get("csv")
    if table_key:
        table = report.table(table_key)
        if table is None:
            return HttpResponse(
                f"Unknown table “{table_key}”.", status=404, content_type="text/plain"
            )
        response = HttpResponse(reports.table_csv(table), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="{kind}-{period.first_day.isoformat()}-{table.key}.csv"'
        )
        return response
    subscription = ReportSubscription.objects.filter(user=request.user, report=kind).first()
    figures = [{"chart": chart, "figure": _figure_json(chart)} for chart in report.figures]
    return render(
        request,
        f"dashboards/report_{kind}.html",
        {
            "report": report,
            "figures": figures,
            "kind": kind,
            "subscribed": bool(subscription and subscription.is_active),
            "error": error,
            "previous_token": period_token(previous(period)),
            "next_token": period_token(following(period))
            if following(period).start <= now
            else None,
            "period_token": period_token(period),
            "tz": tz,
            "spend_link": user_may_open(request.user, "dashboards:spend"),
        },
    )


@roles_required(*REPORT_ROLES)
def huddle(request: HttpRequest) -> HttpResponse:
    return _report_page(request, ReportKind.HUDDLE)


@roles_required(*REPORT_ROLES)
def monthly(request: HttpRequest) -> HttpResponse:
    return _report_page(request, ReportKind.MONTHLY)


@roles_required(*REPORT_ROLES)
def qbr(request: HttpRequest) -> HttpResponse:
    return _report_page(request, ReportKind.QBR)


@roles_required(*REPORT_ROLES)
@require_POST
def report_subscription(request: HttpRequest, report: str) -> HttpResponse:
    """Subscribe to (or pause) a report's email; htmx gets the button back."""
    active = request.POST.get("active") == "1"
    error = None
    try:
        services.report_subscription_set(user=request.user, report=report, active=active)
    except DomainError as exc:
        error = exc.message
    if request.htmx:
        subscribed = ReportSubscription.objects.filter(
            user=request.user, report=report, is_active=True
        ).exists()
        return render(
            request,
            "dashboards/_subscription.html",
            {"kind": report, "subscribed": subscribed, "error": error},
            status=400 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            "Subscribed: the report arrives by email when its period closes (09:00)."
            if active
            else "Email paused for this report.",
        )
    return redirect(request.POST.get("next") or reverse("dashboards:reports"))


# --- marketing spend -------------------------------------------------------------------------


@roles_required(*SPEND_ROLES)
def spend(request: HttpRequest) -> HttpResponse:
    """Spend per month and channel: the input of CAC in the QBR (read-only for the executive)."""
    may_edit = request.user.role in SPEND_EDITORS
    if request.method == "POST" and not may_edit:
        raise PermissionDenied("Your role reads the marketing spend; it does not enter it.")
    today = timezone.now().astimezone(ZoneInfo(selectors.organization_timezone())).date()
    form = SpendForm(request.POST or None, initial={"month": today.strftime("%Y-%m")})
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.marketing_spend_set(
                month=form.cleaned_data["month"],
                channel=form.cleaned_data["channel"],
                amount=form.cleaned_data["amount"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Saved {saved.channel} for {saved.month:%B %Y}.")
            return redirect("dashboards:spend")
    page = Paginator(selectors.marketing_spend_list(), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboards/spend.html",
        {"form": form, "page": page, "sources": selectors.source_list(), "may_edit": may_edit},
        status=400 if request.method == "POST" else 200,
    )


@roles_required(*SPEND_EDITORS)
@require_POST
def spend_delete(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(MarketingSpend, pk=pk)
    services.marketing_spend_delete(spend=item, actor=request.user)
    messages.success(request, f"Removed {item.channel} for {item.month:%B %Y}.")
    return redirect("dashboards:spend")


# --- landing page ----------------------------------------------------------------------------


@roles_required(*ALL_ROLES)
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on its numbers: a rep's queue, a leader's team and what waits for them,
    the executive's scorecard, an admin's set-up; a new organization's checklist on top."""
    page = landing.landing(
        user=request.user, now=timezone.now(), tz=selectors.organization_timezone()
    )
    return render(
        request,
        "dashboards/home.html",
        {"page": page, "role_label": Role(request.user.role).label},
    )
