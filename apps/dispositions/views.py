"""Pages of the feedback loop: the rep's queue, the team queue, inline touches and dispositions
(htmx), reason-code settings and the marketing feedback page. Thin: parse, call, render."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from apps.accounts.access import roles_required
from apps.accounts.csv_export import SafeCsvWriter
from apps.accounts.exceptions import DomainError, NotAllowed
from apps.accounts.roles import Capability, Role, roles_for
from apps.compliance.periods import PeriodKind, following, period_for, previous
from apps.dispositions import selectors, services
from apps.dispositions.forms import (
    TOUCH_BUTTONS,
    TOUCH_CHOICES,
    DispositionForm,
    ReasonCodeForm,
    ReasonCodeRenameForm,
    ReassignForm,
    TouchForm,
)
from apps.dispositions.models import Disposition, Outcome, ReasonCode
from apps.dispositions.panels import lead_detail_url, panel_context
from apps.handoff import channels
from apps.leads.models import Lead

QUEUE_PAGE_SIZE = 50
BEHIND_PAGE_SIZE = 25
QUEUE_ROLES = tuple(roles_for(Capability.OWN_QUEUE))
TEAM_ROLES = tuple(roles_for(Capability.TEAM_QUEUE))
WORK_ROLES = tuple(roles_for(Capability.WORK_LEADS))
REASON_CODE_ROLES = tuple(roles_for(Capability.REASON_CODES))
FEEDBACK_ROLES = (
    Role.MARKETING_LEADER,
    Role.MARKETER,
    Role.EXECUTIVE,
    Role.ADMIN,
    Role.SALES_LEADER,
)
# The client refreshes the queue list when this event fires (after any inline change).
QUEUE_CHANGED = "queue-changed"
# ... and shows this confirmation in its status line.
QUEUE_MESSAGE = "queue-message"
# ... and moves the keyboard to this lead's row once the list is back.
QUEUE_FOCUS = "queue-focus"
# How long the status line offers Undo after a disposition (the service allows a bit more).
UNDO_OFFER_SECONDS = 8


def _first_error(form) -> DomainError:
    field, errors = next(iter(form.errors.items()))
    return DomainError(errors[0], field=field if field != "__all__" else "non_field_errors")


# --- the queue ---------------------------------------------------------------


def _team_filter(request: HttpRequest) -> dict:
    rep = request.GET.get("rep", "")
    if rep == "none":
        return {"unassigned": True}
    if rep.isdigit():
        return {"rep_id": int(rep)}
    return {}


def _queue_context(request: HttpRequest, *, team: bool) -> dict:
    now = timezone.now()
    if team:
        leads = selectors.queue_leads(**_team_filter(request))
    else:
        leads = selectors.queue_leads(owner=request.user)
    page = Paginator(leads, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": selectors.queue_rows(leads=page.object_list, now=now),
        "team": team,
        "list_url": request.get_full_path(),
        **_action_context(team=team),
    }
    if team:
        context["loads"] = selectors.team_loads(now=now)
        context["rep_filter"] = request.GET.get("rep", "")
    return context


def _action_context(*, team: bool) -> dict:
    """What the row forms offer: outcomes, live reason codes by outcome, touch kinds, reps."""
    return {
        "team": team,
        "now": timezone.now(),
        "outcomes": Outcome.choices,
        "reason_codes": selectors.reason_codes_offered(),
        "touch_kinds": [(kind, TOUCH_BUTTONS.get(kind, label)) for kind, label in TOUCH_CHOICES],
        "members": list(selectors.team_members()) if team else [],
    }


@roles_required(*QUEUE_ROLES)
def my_queue(request: HttpRequest) -> HttpResponse:
    """My MQLs: the rep's open MQLs, nearest deadline first, each with its live countdown."""
    context = _queue_context(request, team=False)
    if request.htmx:
        return render(request, "dispositions/queue.html#queue-list", context)
    return render(request, "dispositions/queue.html", context)


@roles_required(*TEAM_ROLES)
def team_queue(request: HttpRequest) -> HttpResponse:
    """The sales leader's view: every open MQL of the team, by rep, with each rep's load."""
    context = _queue_context(request, team=True)
    if request.htmx:
        return render(request, "dispositions/queue.html#queue-list", context)
    return render(request, "dispositions/queue.html", context)


def _lead_or_404(pk: int) -> Lead:
    return get_object_or_404(Lead.objects.select_related("owner"), pk=pk)


def _after_action(
    request: HttpRequest,
    lead: Lead,
    *,
    done: str = "",
    error: DomainError | None = None,
    undo: Disposition | None = None,
) -> HttpResponse:
    """The answer to an inline action: the row (or the lead panel) again, updated; the list
    refreshes itself on the event. A refused action comes back with its message next to the
    form and with what the person typed still in it. Without htmx: back where the form was,
    with a message."""
    where = request.POST.get("view", "")
    if not request.htmx:
        if isinstance(error, NotAllowed):
            raise PermissionDenied(error.message)
        if error:
            messages.error(request, error.message)
        elif done:
            messages.success(request, done)
        if where == "panel":
            return redirect(lead_detail_url(lead) or reverse("dispositions:my_queue"))
        return redirect("dispositions:team_queue" if where == "team" else "dispositions:my_queue")
    status = (403 if isinstance(error, NotAllowed) else 422) if error else 200
    typed = request.POST if error else None
    if where == "panel":
        context = panel_context(lead=Lead.objects.get(pk=lead.pk), user=request.user)
        context.update(panel_error=error, panel_done=done, typed=typed)
        response = render(request, "dispositions/_lead_panel.html#panel", context, status=status)
    else:
        team = where == "team"
        leads = list(selectors.queue_leads().filter(pk=lead.pk))
        context = {
            **_action_context(team=team),
            "row": (selectors.queue_rows(leads=leads, now=timezone.now()) or [None])[0],
            "settled": None if leads else selectors.lead_disposition_current(lead=lead),
            "lead": Lead.objects.select_related("owner").get(pk=lead.pk),
            "row_error": error,
            "row_done": done,
            "typed": typed,
        }
        response = render(request, "dispositions/queue.html#queue-row", context, status=status)
    if not error:
        trigger_client_event(response, QUEUE_CHANGED)
        # The row is redrawn by the refresh at once; the confirmation lives outside the list,
        # with an Undo for a disposition while it can still be taken back.
        message = {"text": f"{done} ({lead})", "lead": lead.pk}
        if undo is not None:
            message["undo"] = reverse("dispositions:disposition_undo", args=[undo.pk])
            message["undo_seconds"] = UNDO_OFFER_SECONDS
        trigger_client_event(response, QUEUE_MESSAGE, message)
    return response


@roles_required(*WORK_ROLES)
@require_POST
def touch_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a call / email / meeting / SMS / social touch in one click."""
    lead = _lead_or_404(pk)
    form = TouchForm(request.POST)
    if not form.is_valid():
        return _after_action(request, lead, error=_first_error(form))
    try:
        touch = channels.touch_record(
            lead=lead,
            kind=form.cleaned_data["kind"],
            actor=request.user,
            note=form.cleaned_data["note"],
        )
    except DomainError as exc:
        return _after_action(request, lead, error=exc)
    return _after_action(request, lead, done=f"{touch.get_kind_display()} logged.")


@roles_required(*WORK_ROLES)
@require_POST
def disposition_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Give an MQL its disposition (accepted, rejected or nurture with a reason, working)."""
    lead = _lead_or_404(pk)
    form = DispositionForm(request.POST)
    if not form.is_valid():
        return _after_action(request, lead, error=_first_error(form))
    try:
        disposition = channels.disposition_create(
            lead=lead,
            outcome=form.cleaned_data["outcome"],
            reason_code=form.cleaned_data["reason_code"],
            note=form.cleaned_data["note"],
            actor=request.user,
            channel="web",
        )
    except DomainError as exc:
        return _after_action(request, lead, error=exc)
    done = disposition.get_outcome_display()
    if disposition.reason_code:
        done += f" — {disposition.reason_code.label}"
    return _after_action(request, lead, done=f"{done}.", undo=disposition)


@roles_required(*WORK_ROLES)
@require_POST
def disposition_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Take back a disposition given a few seconds ago (the queue's Undo button, or "u")."""
    disposition = Disposition.objects.select_related("lead").filter(pk=pk).first()
    error = None
    if disposition is None:
        error = DomainError("This disposition is no longer there: nothing to undo.")
    else:
        try:
            channels.disposition_undo(disposition=disposition, actor=request.user)
        except DomainError as exc:
            error = exc
    if not request.htmx:
        if error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Disposition undone: {disposition.lead} is back.")
        return redirect("dispositions:my_queue")
    status = (403 if isinstance(error, NotAllowed) else 409) if error else 200
    response = render(
        request,
        "dispositions/queue.html#undo-result",
        {"error": error, "lead": None if error else disposition.lead},
        status=status,
    )
    if not error:
        trigger_client_event(response, QUEUE_CHANGED)
        trigger_client_event(response, QUEUE_FOCUS, {"lead": disposition.lead_id})
    return response


@roles_required(*WORK_ROLES)
@require_POST
def disposition_bulk(request: HttpRequest) -> HttpResponse:
    """One disposition with one reason for several selected leads; per-lead results."""
    form = DispositionForm(request.POST)
    lead_ids = [int(v) for v in request.POST.getlist("leads") if v.isdigit()]
    summary: dict = {"saved": 0, "problems": []}
    if not lead_ids:
        summary["problems"].append(("", "Select at least one lead."))
    elif not form.is_valid():
        summary["problems"].append(("", _first_error(form).message))
    else:
        leads = {lead.pk: lead for lead in Lead.objects.filter(pk__in=lead_ids)}
        items = [
            services.DispositionItem(
                lead=leads[pk],
                outcome=form.cleaned_data["outcome"],
                reason_code=form.cleaned_data["reason_code"],
                note=form.cleaned_data["note"],
            )
            for pk in lead_ids
            if pk in leads
        ]
        report = channels.dispositions_bulk_create(
            items=items, principal=request.user, channel="web"
        )
        summary["saved"] = report.created + report.unchanged
        for result in report.results:
            if result.status == "rejected":
                message = next(iter(result.errors.values()))[0]
                summary["problems"].append((str(items[result.index].lead), message))
    if not request.htmx:
        if summary["saved"]:
            messages.success(request, f"{summary['saved']} leads updated.")
        for name, message in summary["problems"]:
            messages.error(request, f"{name}: {message}" if name else message)
        return redirect(
            "dispositions:team_queue"
            if request.POST.get("view") == "team"
            else "dispositions:my_queue"
        )
    response = render(request, "dispositions/queue.html#bulk-result", {"summary": summary})
    if summary["saved"]:
        trigger_client_event(response, QUEUE_CHANGED)
    return response


@roles_required(*TEAM_ROLES)
@require_POST
def lead_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    """Give a lead to another rep (the leads app keeps the assignment record)."""
    lead = _lead_or_404(pk)
    form = ReassignForm(request.POST)
    if not form.is_valid():
        return _after_action(request, lead, error=_first_error(form))
    owner = selectors.team_members().filter(pk=form.cleaned_data["owner"]).first()
    if owner is None:
        return _after_action(
            request, lead, error=DomainError("Choose someone of the team.", field="owner")
        )
    try:
        channels.lead_reassign(
            lead=lead, owner=owner, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        return _after_action(request, lead, error=exc)
    return _after_action(request, lead, done=f"Now with {owner}.")


# --- reason codes ------------------------------------------------------------


def _codes_response(
    request: HttpRequest,
    *,
    error: DomainError | None = None,
    form=None,
    code: ReasonCode | None = None,
):
    """The list again; a refusal is said in the row of the code it was about (whose inputs
    show the stored values again)."""
    context = {
        "codes": selectors.reason_code_list(),
        "form": form or ReasonCodeForm(),
        "codes_error": error,
        "error_code_id": code.pk if code is not None and error is not None else None,
    }
    if request.htmx:
        return render(
            request, "dispositions/reason_codes.html#codes", context, status=422 if error else 200
        )
    if error:
        messages.error(request, error.message)
    return redirect("dispositions:reason_codes")


@roles_required(*REASON_CODE_ROLES)
def reason_codes(request: HttpRequest) -> HttpResponse:
    """The reason-code picklist: add, rename, reorder, retire and restore."""
    form = ReasonCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            code = services.reason_code_create(
                label=form.cleaned_data["label"],
                outcome=form.cleaned_data["outcome"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"“{code.label}” added.")
            return redirect("dispositions:reason_codes")
    return render(
        request,
        "dispositions/reason_codes.html",
        {"codes": selectors.reason_code_list(), "form": form},
        status=400 if form.errors else 200,
    )


@roles_required(*REASON_CODE_ROLES)
@require_POST
def reason_code_rename(request: HttpRequest, pk: int) -> HttpResponse:
    code = get_object_or_404(ReasonCode, pk=pk)
    form = ReasonCodeRenameForm(request.POST)
    if not form.is_valid():
        return _codes_response(request, error=_first_error(form), code=code)
    try:
        services.reason_code_rename(
            reason_code=code, label=form.cleaned_data["label"], actor=request.user
        )
    except DomainError as exc:
        return _codes_response(request, error=exc, code=code)
    return _codes_response(request)


@roles_required(*REASON_CODE_ROLES)
@require_POST
def reason_code_move(request: HttpRequest, pk: int) -> HttpResponse:
    code = get_object_or_404(ReasonCode, pk=pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        services.reason_code_move(reason_code=code, offset=offset, actor=request.user)
    except DomainError as exc:
        return _codes_response(request, error=exc, code=code)
    return _codes_response(request)


@roles_required(*REASON_CODE_ROLES)
@require_POST
def reason_code_retire(request: HttpRequest, pk: int) -> HttpResponse:
    code = get_object_or_404(ReasonCode, pk=pk)
    services.reason_code_retire(reason_code=code, actor=request.user)
    return _codes_response(request)


@roles_required(*REASON_CODE_ROLES)
@require_POST
def reason_code_restore(request: HttpRequest, pk: int) -> HttpResponse:
    code = get_object_or_404(ReasonCode, pk=pk)
    try:
        services.reason_code_restore(reason_code=code, actor=request.user)
    except DomainError as exc:
        return _codes_response(request, error=exc, code=code)
    return _codes_response(request)


# --- marketing feedback --------------------------------------------------------


def _period(request: HttpRequest):
    kind = request.GET.get("period", PeriodKind.WEEK)
    if kind not in PeriodKind._value2member_map_:
        kind = PeriodKind.WEEK
    tz = selectors.tenant_timezone()
    try:
        day = date.fromisoformat(request.GET.get("on", ""))
    except ValueError:
        day = None
    return period_for(PeriodKind(kind), day or timezone.now(), tz)


def _feedback_filter(request: HttpRequest) -> selectors.FeedbackFilter | None:
    """The drill-down the reader asked for, or None for the overview."""
    params = request.GET
    keys = {"outcome", "reason", "source", "campaign", "definition"}
    if not keys & params.keys():
        return None
    outcome = params.get("outcome")
    reason = params.get("reason", "")
    definition = params.get("definition", "")
    return selectors.FeedbackFilter(
        outcome=outcome if outcome in Outcome.values else None,
        reason_code_id=int(reason) if reason.isdigit() else None,
        source=params.get("source"),
        campaign=params.get("campaign"),
        definition_id=int(definition) if definition.isdigit() else None,
        no_definition=definition == "none",
    )


@roles_required(*FEEDBACK_ROLES)
def feedback(request: HttpRequest) -> HttpResponse:
    """The weekly review on one screen: what sales said about marketing's MQLs, and why."""
    period = _period(request)
    filters = _feedback_filter(request)
    period_query = {"period": period.kind.value, "on": period.first_day.isoformat()}
    context = {"period": period, "period_query": period_query, "filters": filters}
    if filters is not None:
        behind = selectors.feedback_dispositions(
            start=period.start, end=period.end, filters=filters
        )
        context["behind"] = Paginator(behind, BEHIND_PAGE_SIZE).get_page(request.GET.get("page"))
    if request.htmx and request.htmx.target == "behind":
        return render(request, "dispositions/feedback.html#behind", context)
    context.update(
        report=selectors.feedback_report(start=period.start, end=period.end),
        nurture=list(selectors.nurture_returned(start=period.start, end=period.end)[:50]),
        previous=previous(period).first_day.isoformat(),
        following=following(period).first_day.isoformat(),
        is_current=period.contains(timezone.now()),
        kinds=[(kind.value, kind.value.title()) for kind in PeriodKind],
    )
    return render(request, "dispositions/feedback.html", context)


@roles_required(*FEEDBACK_ROLES)
def nurture_export(request: HttpRequest) -> HttpResponse:
    """The returned-to-nurture list of the period as CSV, for marketing's next campaign."""
    period = _period(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="returned-to-nurture-{period.first_day.isoformat()}.csv"'
    )
    writer = SafeCsvWriter(response)
    writer.writerow(
        [
            "external_id",
            "name",
            "email",
            "company",
            "source",
            "campaign",
            "reason",
            "note",
            "rep",
            "returned_at",
        ]
    )
    for disposition in selectors.nurture_returned(start=period.start, end=period.end).iterator():
        lead = disposition.lead
        writer.writerow(
            [
                lead.external_id,
                lead.full_name,
                lead.email,
                lead.company,
                lead.source,
                lead.campaign,
                disposition.reason_code.label if disposition.reason_code else "",
                disposition.note,
                disposition.actor.email if disposition.actor else "",
                disposition.occurred_at.isoformat(),
            ]
        )
    return response
