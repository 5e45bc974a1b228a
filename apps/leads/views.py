"""Browser pages of the leads app: list and detail, routing rules, CSV import, webhook settings."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from apps.accounts.access import roles_required
from apps.accounts.csv_export import SafeCsvWriter, csv_lines
from apps.accounts.exceptions import DomainError
from apps.accounts.roles import ALL_ROLES, Capability, Role, roles_for
from apps.handoff import channels
from apps.leads import owners, selectors, services
from apps.leads.csv_rows import ENCODINGS
from apps.leads.field_mapping import DEFAULT_MAPPINGS, LEAD_TARGETS, PROPERTY_PREFIX
from apps.leads.forms import ImportUploadForm, LeadFilterForm, ReassignForm, RoutingRuleForm
from apps.leads.models import FieldMapping, ImportJob, RoutingRule
from apps.leads.panel_discovery import lead_panels
from apps.leads.routing import describe_condition

ROUTING_ROLES = tuple(roles_for(Capability.ROUTE_LEADS))
IMPORT_ROLES = tuple(roles_for(Capability.IMPORT_LEADS))
EXPORT_COLUMNS = (
    "external_id", "email", "first_name", "last_name", "title", "seniority", "company",
    "company_domain", "company_size", "annual_revenue", "industry", "country", "region",
    "source", "campaign", "stage", "mql_at", "sql_at", "opportunity_at", "closed_at",
    "amount", "expected_close", "created_at",
)  # fmt: skip


def _filter_form(request: HttpRequest) -> LeadFilterForm:
    return LeadFilterForm(
        request.GET or None, choices=selectors.lead_filter_choices(user=request.user)
    )


@roles_required(*ALL_ROLES)
def lead_list(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    leads = selectors.lead_list(
        user=request.user, filters=form.filters() if form.is_bound else None
    )
    page = Paginator(leads, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "is_rep": request.user.role == Role.REP,
        "may_import": request.user.role in IMPORT_ROLES,
    }
    if request.htmx:
        return render(request, "leads/lead_list.html#results", context)
    return render(request, "leads/lead_list.html", context)


@roles_required(*ALL_ROLES)
def lead_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered lead list as CSV, streamed: memory stays flat for any number of leads."""
    form = _filter_form(request)
    leads = selectors.lead_list(
        user=request.user, filters=form.filters() if form.is_bound else None
    )
    rows = (
        [getattr(lead, column) for column in EXPORT_COLUMNS]
        + [lead.owner.email if lead.owner else ""]
        for lead in leads.iterator(chunk_size=2000)
    )
    response = StreamingHttpResponse(
        csv_lines([*EXPORT_COLUMNS, "owner_email"], rows), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="leads-{connection.schema_name}-{stamp}.csv"'
    )
    return response


def _panels_html(request: HttpRequest, lead) -> list[dict]:
    panels = []
    for panel in lead_panels(lead=lead, user=request.user):
        context = {**panel["context"], "lead": lead, "panel_title": panel["title"]}
        panels.append(
            {
                "title": panel["title"],
                "html": mark_safe(render_to_string(panel["template"], context, request=request)),  # noqa: S308 - rendered by our own templates
            }
        )
    return panels


@roles_required(*ALL_ROLES)
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(selectors.lead_visible_list(user=request.user), pk=pk)
    may_route = request.user.role in ROUTING_ROLES
    return render(
        request,
        "leads/lead_detail.html",
        {
            "lead": lead,
            "timeline": selectors.lead_timeline(lead=lead),
            "panels": _panels_html(request, lead),
            "may_route": may_route,
            "reassign_form": ReassignForm(initial={"owner": lead.owner_id}) if may_route else None,
        },
    )


@roles_required(*ROUTING_ROLES)
@require_POST
def lead_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(selectors.lead_visible_list(user=request.user), pk=pk)
    form = ReassignForm(request.POST)
    if form.is_valid():
        try:
            channels.lead_reassign(
                lead=lead,
                owner=form.cleaned_data["owner"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Lead assigned to {form.cleaned_data['owner']}.")
    else:
        messages.error(request, "Choose the new owner.")
    return redirect("leads:lead_detail", pk=lead.pk)


@roles_required(*ROUTING_ROLES)
@require_POST
def lead_route(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(selectors.lead_visible_list(user=request.user), pk=pk)
    try:
        assignment = channels.lead_route_now(lead=lead, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Routed to {assignment.owner} by “{assignment.rule}”.")
    return redirect("leads:lead_detail", pk=lead.pk)


# --- routing rules ------------------------------------------------------------------------


@roles_required(*ROUTING_ROLES)
def routing_rule_list(request: HttpRequest) -> HttpResponse:
    rules = selectors.routing_rule_list()
    for rule in rules:
        rule.described = [describe_condition(c) for c in rule.conditions]
    return render(request, "leads/routing_rule_list.html", {"rules": rules})


def _routing_rule_form(request: HttpRequest, rule: RoutingRule | None) -> HttpResponse:
    if request.method == "POST":
        form = RoutingRuleForm(request.POST)
        if form.is_valid():
            try:
                owners.routing_rule_save(
                    rule=rule,
                    name=form.cleaned_data["name"],
                    conditions=form.conditions(),
                    pool=form.cleaned_data["pool"],
                    is_fallback=form.cleaned_data["is_fallback"],
                    is_active=form.cleaned_data["is_active"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Routing rule saved.")
                return redirect("leads:routing_rule_list")
    else:
        form = RoutingRuleForm(
            initial=RoutingRuleForm.initial_for(rule) if rule else {"is_active": True}
        )
    return render(request, "leads/routing_rule_form.html", {"form": form, "rule": rule})


@roles_required(*ROUTING_ROLES)
def routing_rule_create(request: HttpRequest) -> HttpResponse:
    return _routing_rule_form(request, None)


@roles_required(*ROUTING_ROLES)
def routing_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _routing_rule_form(request, get_object_or_404(RoutingRule, pk=pk))


@roles_required(*ROUTING_ROLES)
@require_POST
def routing_rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    owners.routing_rule_move(
        rule=rule, direction=request.POST.get("direction", ""), actor=request.user
    )
    return redirect("leads:routing_rule_list")


@roles_required(*ROUTING_ROLES)
@require_POST
def routing_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    owners.routing_rule_delete(rule=rule, actor=request.user)
    messages.success(request, f"Rule “{rule.name}” deleted.")
    return redirect("leads:routing_rule_list")


# --- CSV import ---------------------------------------------------------------------------


@roles_required(*IMPORT_ROLES)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_job_create(
                filename=upload.name, content=upload.read(), actor=request.user
            )
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("leads:import_detail", pk=job.pk)
    return render(
        request, "leads/import_upload.html", {"form": form, "jobs": selectors.import_job_list()}
    )


def _target_choices() -> list[tuple[str, str]]:
    return [("", "— ignore —"), *LEAD_TARGETS.items()]


@roles_required(*IMPORT_ROLES)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if request.htmx and job.status != ImportJob.Status.UPLOADED:
        return render(request, "leads/import_detail.html#progress", {"job": job})
    error = None
    if request.method == "POST" and job.status == ImportJob.Status.UPLOADED:
        mapping = {header: request.POST.get(f"map-{i}", "") for i, header in enumerate(job.headers)}
        for i, header in enumerate(job.headers):
            if mapping[header] == "__property__":
                mapping[header] = PROPERTY_PREFIX + (request.POST.get(f"prop-{i}") or header)
        try:
            services.import_job_start(
                job=job,
                mapping=mapping,
                encoding=request.POST.get("encoding", job.encoding),
                date_order=request.POST.get("date_order", job.date_order),
                time_zone=request.POST.get("time_zone", job.time_zone),
                actor=request.user,
            )
        except DomainError as exc:
            error = exc.message
            job.mapping = mapping
        else:
            return redirect("leads:import_detail", pk=job.pk)
    context = {"job": job, "error": error}
    if job.status == ImportJob.Status.UPLOADED:
        encoding = request.GET.get("encoding") if request.GET.get("encoding") in ENCODINGS else None
        preview = selectors.import_preview(job=job, encoding=encoding)
        columns = []
        for i, header in enumerate(job.headers):
            target = job.mapping.get(header, "")
            columns.append(
                {
                    "index": i,
                    "header": header,
                    "target": "__property__" if target.startswith(PROPERTY_PREFIX) else target,
                    "property": target.removeprefix(PROPERTY_PREFIX)
                    if target.startswith(PROPERTY_PREFIX)
                    else "",
                    "samples": [row.cells.get(header, "") for row in preview.rows[:3]],
                }
            )
        context.update(
            preview=preview,
            columns=columns,
            targets=_target_choices(),
            encodings=ENCODINGS.items(),
            chosen_encoding=encoding or job.encoding,
            date_orders=ImportJob.DateOrder.choices,
            time_zones=(
                "UTC",
                "Europe/London",
                "Europe/Berlin",
                "America/New_York",
                "America/Chicago",
                "America/Los_Angeles",
                "Asia/Singapore",
                "Australia/Sydney",
            ),
        )
    return render(request, "leads/import_detail.html", context)


@roles_required(*IMPORT_ROLES)
def import_errors_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected-rows.csv"'
    writer = SafeCsvWriter(response)
    writer.writerow(["line", "external_id", "field", "reason"])
    for problem in job.row_errors:
        for field_name, reasons in problem["errors"].items():
            for reason in reasons:
                writer.writerow([problem["line"], problem["external_id"], field_name, reason])
    return response


# --- webhook settings -----------------------------------------------------------------------


@roles_required(Role.ADMIN)
def webhook_settings(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "rotate":
                services.webhook_endpoint_rotate(actor=request.user)
                messages.success(request, "New URL and signing secret: update them in your CRM.")
            elif action in {"enable", "disable"}:
                services.webhook_endpoint_rotate(actor=request.user, is_active=action == "enable")
                messages.success(request, f"Webhook {action}d.")
            elif action == "mapping":
                source = request.POST.get("source", "")
                names = request.POST.getlist("name")
                targets = request.POST.getlist("target")
                services.field_mapping_save(
                    source=source,
                    mapping={n: t for n, t in zip(names, targets, strict=False) if n.strip()},
                    actor=request.user,
                )
                messages.success(request, "Field mapping saved.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("leads:webhook_settings")
    endpoint = services.webhook_endpoint_get()
    base = request.build_absolute_uri("/")[:-1]
    mappings = []
    for source in ("hubspot", "salesforce"):
        mapping = services.field_mapping_for(source)
        mappings.append(
            {
                "source": source,
                "label": FieldMapping.Source(source).label,
                "rows": sorted(mapping.items(), key=lambda kv: kv[0].lower()),
                "is_default": mapping == DEFAULT_MAPPINGS[source],
                "token_url": base
                + reverse("api:leads:webhook_receive_token", args=[source, endpoint.url_token]),
                "signed_url": base + reverse("api:leads:webhook_receive", args=[source]),
            }
        )
    return render(
        request,
        "leads/webhook_settings.html",
        {
            "endpoint": endpoint,
            "mappings": mappings,
            "targets": [*LEAD_TARGETS.items()],
        },
    )
