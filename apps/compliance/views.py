"""Pages: compliance overview and drill-down, notifications and the bell, preferences,
alert settings and the webhook delivery log (admins)."""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.shortcuts import render as django_render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from apps.accounts.access import roles_required
from apps.accounts.exceptions import DomainError
from apps.accounts.roles import ADMINS, ALL_ROLES
from apps.compliance import kind_selectors, selectors, services
from apps.compliance.alert_text import format_value
from apps.compliance.forms import AlertSettingsForm, DrilldownForm, PeriodForm, PreferencesForm
from apps.compliance.models import (
    AlertDelivery,
    Channel,
    DeliveryStatus,
    Notification,
    NotificationMute,
)
from apps.compliance.periods import Period, PeriodKind, following, period_for, previous
from apps.sla.models import Commitment


def render(
    request: HttpRequest, template: str, context: dict | None = None, **kwargs
) -> HttpResponse:
    """Render with times shown in the organization's timezone (periods are in it too)."""
    with timezone.override(ZoneInfo(selectors.organization_timezone())):
        return django_render(request, template, context, **kwargs)


def _period_and_as_of(form: PeriodForm) -> tuple[Period, datetime | None]:
    tz = selectors.organization_timezone()
    kind, day, as_of = PeriodKind.WEEK, None, None
    if form.is_valid():
        kind = PeriodKind(form.cleaned_data["period"])
        day = form.cleaned_data.get("start")
        as_of = form.cleaned_data.get("as_of")
    if as_of is not None:
        # The picker shows the organization's wall-clock time, not the server's.
        as_of = as_of.astimezone(ZoneInfo(tz))
    day = day or timezone.now()
    return period_for(kind, day, tz), as_of


def _query(period: Period, as_of: datetime | None = None, **extra) -> str:
    params = {"period": period.kind.value, "start": period.first_day.isoformat()}
    if as_of is not None:
        params["as_of"] = as_of.strftime("%Y-%m-%dT%H:%M")
    params.update({k: v for k, v in extra.items() if v is not None})
    return urlencode(params)


@roles_required(*ALL_ROLES)
def overview(request: HttpRequest) -> HttpResponse:
    """One row per commitment kind in force for a period (each over its own review period
    when that is longer), with value, target, status, SLA versions and drill-down links."""
    form = PeriodForm(request.GET or None)
    period, as_of = _period_and_as_of(form)
    scope = selectors.compliance_scope(request.user)
    catalog = kind_selectors.signed_commitments()
    results = selectors.compliance_in_review_periods(
        period=period,
        as_of=as_of,
        owner_id=scope.owner_id,
        kinds=[
            kind
            for kind in kind_selectors.commitment_kinds(period=period, catalog=catalog)
            if scope.admits(kind.commitment)
        ],
        catalog=catalog,
    )
    rows = [
        {
            "item": item,
            "versions": ", ".join(f"v{n}" for n in item.result.versions),
            "own_period": "" if item.period == period else item.period.label,
            "value": format_value(item.commitment.metric, item.result.value),
            "target": format_value(
                item.commitment.metric, item.result.effective_target or item.result.target
            ),
            "met": int(item.result.numerator),
            "missed": int(item.result.denominator - item.result.numerator),
            "links": {
                outcome: f"?{_query(item.period, as_of, outcome=outcome)}"
                for outcome in ("met", "missed", "pending")
            },
        }
        for item in results
    ]
    return render(
        request,
        "compliance/overview.html",
        {
            "form": form,
            "period": period,
            "as_of": as_of,
            "rows": rows,
            "own_only": scope.owner_id is not None,
            "previous_query": _query(previous(period)),
            "next_query": _query(following(period)),
            "kinds": [k.value for k in PeriodKind],
        },
    )


@roles_required(*ALL_ROLES)
def commitment_leads(request: HttpRequest, commitment_id: int) -> HttpResponse:
    """The leads behind a commitment's number: met, missed or pending, paginated."""
    form = DrilldownForm(request.GET or None)
    period, as_of = _period_and_as_of(form)
    outcome = (form.cleaned_data.get("outcome") if form.is_valid() else None) or "missed"
    scope = selectors.compliance_scope(request.user)
    commitment = Commitment.objects.select_related("version").filter(pk=commitment_id).first()
    if commitment is None or not scope.admits(commitment):
        raise Http404("No such commitment.")
    result = selectors.commitment_result(
        commitment=commitment,
        period=period,
        as_of=as_of or selectors.default_as_of(period),
        owner_id=scope.owner_id,
        with_outcomes=False,
    )
    leads = selectors.commitment_leads(
        commitment=commitment, period=period, outcome=outcome, as_of=as_of, owner_id=scope.owner_id
    )
    page = Paginator(leads, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "compliance/commitment_leads.html",
        {
            "commitment": commitment,
            "period": period,
            "as_of": as_of,
            "outcome": outcome,
            "result": result,
            "value": format_value(commitment.metric, result.value),
            "page": page,
            "tabs": [
                (name, f"?{_query(period, as_of, outcome=name)}")
                for name in ("met", "missed", "pending")
            ],
            "page_query": _query(period, as_of, outcome=outcome),
            "overview_query": _query(period, as_of),
        },
    )


# --- notifications -----------------------------------------------------------------------


@roles_required(*ALL_ROLES)
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("show") == "unread"
    page = Paginator(
        selectors.notification_list(user=request.user, unread_only=unread_only), 30
    ).get_page(request.GET.get("page"))
    return render(
        request, "compliance/notification_list.html", {"page": page, "unread_only": unread_only}
    )


@roles_required(*ALL_ROLES)
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        notification = services.notification_mark_read(user=request.user, notification_id=pk)
    except Notification.DoesNotExist as missing:
        raise Http404("No such notification.") from missing
    if request.htmx:
        response = render(
            request, "compliance/notification_list.html#notification-row", {"n": notification}
        )
        return trigger_client_event(response, "notifications-changed")
    return redirect(request.POST.get("next") or "compliance:notification_list")


@roles_required(*ALL_ROLES)
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("compliance:notification_list")


@roles_required(*ALL_ROLES)
def bell(request: HttpRequest) -> HttpResponse:
    """The bell alone (htmx polls it), with a fresh unread count from the context processor."""
    return render(request, "compliance/_bell.html")


@roles_required(*ALL_ROLES)
def preferences(request: HttpRequest) -> HttpResponse:
    muted = set(NotificationMute.objects.filter(user=request.user).values_list("kind", "channel"))
    form = PreferencesForm(request.POST or None, muted=muted)
    if request.method == "POST" and form.is_valid():
        services.notification_mutes_set(user=request.user, muted=form.muted())
        messages.success(request, "Your notification preferences are saved.")
        return redirect("compliance:preferences")
    return render(request, "compliance/preferences.html", {"form": form})


# --- organization alert settings (admins) --------------------------------------------------


@roles_required(*ADMINS)
def alert_settings(request: HttpRequest) -> HttpResponse:
    current = selectors.alert_settings()
    initial = {
        "due_soon_percent": round(current.due_soon_share * 100) if current.due_soon_share else None,
        "webhook_url": current.webhook_url,
        "webhook_enabled": current.webhook_enabled,
        "webhook_kinds": current.webhook_kinds,
    }
    form = AlertSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        secret = data["webhook_secret"] or None
        if data["generate_secret"]:
            secret = secrets.token_hex(32)
        try:
            services.alert_settings_update(
                actor=request.user,
                due_soon_share=data["due_soon_percent"] / 100 if data["due_soon_percent"] else None,
                webhook_url=data["webhook_url"],
                webhook_enabled=data["webhook_enabled"],
                webhook_kinds=data["webhook_kinds"],
                webhook_secret=secret,
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if data["generate_secret"]:
                messages.success(
                    request,
                    f"Settings saved. The new signing secret is {secret} — copy it now, "
                    "it is not shown again.",
                )
            else:
                messages.success(request, "Alert settings saved.")
            return redirect("compliance:alert_settings")
    owed = AlertDelivery.objects.filter(channel=Channel.WEBHOOK)
    return render(
        request,
        "compliance/alert_settings.html",
        {
            "form": form,
            "current": current,
            "pending_count": owed.filter(status=DeliveryStatus.PENDING).count(),
            "failed_count": owed.filter(status=DeliveryStatus.FAILED).count(),
        },
    )


@roles_required(*ADMINS)
def webhook_log(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.webhook_attempt_list(), 50).get_page(request.GET.get("page"))
    return render(request, "compliance/webhook_log.html", {"page": page})
