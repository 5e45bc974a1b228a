"""Browser pages of the SLA: drafting, sign-off, history, the printable agreement, calendars."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.access import roles_required
from apps.accounts.exceptions import DomainError
from apps.accounts.roles import ALL_ROLES, Role
from apps.mql.rules import DefinitionError, describe_definition, parse_definition
from apps.sla import selectors, services
from apps.sla.agreement_templates import TEMPLATES
from apps.sla.forms import (
    CalendarForm,
    CalendarPreviewForm,
    CommitmentForm,
    EscalationForm,
    NewVersionForm,
    SignForm,
    VersionForm,
)
from apps.sla.models import BusinessCalendar, Commitment, EscalationRule, SlaVersion, VersionStatus
from apps.sla.snapshots import describe_week
from apps.sla.wording import RATE_METRICS, format_value

DRAFTERS = (Role.MARKETING_LEADER, Role.SALES_LEADER, Role.ADMIN)
SIGNERS = (Role.MARKETING_LEADER, Role.SALES_LEADER)


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR is what the server saw; a proxy in front sets it through its own config.
    return request.META.get("REMOTE_ADDR") or None


def _display_zone(version: SlaVersion | None = None) -> str:
    """Every SLA page shows times in the organization's zone (activated by the middleware),
    whatever calendar a draft picks, so one page never mixes two zones."""
    return timezone.get_current_timezone_name()


_MQL_HEADINGS = ("Fit:", "Behaviour:", "Score of", "No score")


def _mql_lines(version: SlaVersion) -> list[dict]:
    """The definition in plain words; section lines (fit, behaviour, score) flagged as headings."""
    definition = version.mql_definition
    if definition is None:
        return []
    try:
        lines = describe_definition(parse_definition(definition.rules or {}))
    except DefinitionError:
        lines = ["(The MQL definition could not be read.)"]
    return [{"text": line, "heading": line.startswith(_MQL_HEADINGS)} for line in lines]


def _commitment_rows(
    version: SlaVersion, *, bound: CommitmentForm | None = None, problem: dict | None = None
) -> list[dict]:
    """One row per commitment: its sentence, its edit form (the refused one, bound, stays open
    with its errors next to its fields) and a refusal said next to its Remove button."""
    rows = []
    for c in version.commitments.all():
        refused = bound is not None and bound.prefix == f"c{c.pk}"
        rows.append(
            {
                "commitment": c,
                "sentence": selectors.commitment_sentence(c),
                "target": format_value(c.metric, c.target),
                "yellow": format_value(c.metric, c.yellow_threshold),
                "form": bound
                if refused
                else CommitmentForm(initial=CommitmentForm.initial_for(c), prefix=f"c{c.pk}"),
                "open": refused,
                "problem": (problem or {}).get(("commitment", c.pk)),
            }
        )
    return rows


def _escalation_rows(version: SlaVersion, *, problem: dict | None = None) -> list[dict]:
    content_commitments = {c.pk: c for c in version.commitments.all()}
    rows = []
    for rule in version.escalation_rules.all():
        commitment = content_commitments.get(rule.commitment_id) or rule.commitment
        rows.append(
            {
                "rule": rule,
                "problem": (problem or {}).get(("escalation", rule.pk)),
                "sentence": selectors.escalation_sentence(
                    {
                        "commitment": 0,
                        "threshold": rule.threshold,
                        "periods": rule.periods,
                        "period_kind": rule.period_kind,
                        "notify_role": rule.notify_role,
                    },
                    [{"label": str(commitment), "metric": commitment.metric}],
                ),
            }
        )
    return rows


def _version_context(request: HttpRequest, version: SlaVersion, **extra) -> dict:
    role = request.user.role
    editable = version.status in (VersionStatus.DRAFT, VersionStatus.AWAITING_SIGNATURES)
    signatures = list(version.signatures.all())
    live_teams = {s.team for s in selectors.live_signatures(version, signatures)}
    own_team = services.SIGNING_TEAM.get(role)
    outdated_by = selectors.version_outdated_by(version)
    in_force = selectors.active_version()
    # What signing this version would change, against the version in force now.
    compare_with = in_force if in_force is not None and in_force.pk != version.pk else None
    if compare_with is None and not version.is_signed:
        compare_with = version.based_on
    snapshot = version.calendar_snapshot or (
        services.calendar_snapshot(version.calendar) if version.calendar_id else {}
    )
    problem = extra.pop("problem", None)
    context = {
        "version": version,
        "signatures": signatures,
        "commitment_rows": _commitment_rows(
            version, bound=extra.pop("commitment_form", None), problem=problem
        ),
        "escalation_rows": _escalation_rows(version, problem=problem),
        "calendar_summary": selectors.calendar_summary(snapshot) if snapshot else "",
        "calendar_frozen": bool(version.calendar_snapshot),
        "mql_lines": _mql_lines(version),
        "changes": selectors.version_changes(version=version),
        "display_zone": _display_zone(version),
        "can_edit": role in DRAFTERS and editable,
        "can_submit": role in DRAFTERS
        and version.status == VersionStatus.DRAFT
        and outdated_by is None,
        "can_amend": role in DRAFTERS and version.is_signed,
        "can_sign": own_team is not None
        and version.status == VersionStatus.AWAITING_SIGNATURES
        and own_team not in live_teams
        and outdated_by is None,
        "outdated_by": outdated_by,
        "can_redraft": role in DRAFTERS and outdated_by is not None,
        "phase": selectors.version_phase(version),
        "compare_with": compare_with,
        "diff_in_force": selectors.version_diff(old=compare_with, new=version)
        if compare_with is not None and not version.is_signed
        else [],
        "own_team": own_team,
        "awaiting_teams": [t for t in ("marketing", "sales") if t not in live_teams],
        "new_commitment_form": extra.pop("new_commitment_form", None)
        or CommitmentForm(prefix="new"),
        "escalation_form": extra.pop("escalation_form", None)
        or EscalationForm(commitments=list(version.commitments.all()), prefix="esc"),
        "version_form": extra.pop("version_form", None) or _version_form_initial(version),
        "sign_form": extra.pop("sign_form", None)
        or SignForm(initial={"content_hash": version.content_hash}),
        "in_force_now": in_force == version,
        "in_force_pk": in_force.pk if in_force else None,
    }
    context.update(extra)
    return context


def _version_form_initial(version: SlaVersion):
    # Aware values: the form field shows them in the organization's zone and reads them back
    # in the same zone, so saving the form unchanged changes nothing.
    return VersionForm(
        initial={
            "purpose": version.purpose,
            "calendar": version.calendar_id,
            "mql_definition": version.mql_definition_id,
            "effective_at": version.effective_at,
            "review_date": version.review_date,
        }
    )


def _get_version(pk: int) -> SlaVersion:
    return get_object_or_404(selectors.version_detail_queryset(), pk=pk)


def _render_version(request: HttpRequest, version: SlaVersion, *, status: int = 200, **extra):
    version = _get_version(version.pk)
    context = _version_context(request, version, **extra)
    template = "sla/version_detail.html#body" if request.htmx else "sla/version_detail.html"
    return render(request, template, context, status=status)


def _after_change(request: HttpRequest, version: SlaVersion, message: str) -> HttpResponse:
    if request.htmx:
        return _render_version(request, version, notice=message)
    messages.success(request, message)
    return redirect("sla:version_detail", pk=version.pk)


def _refused(
    request: HttpRequest, version: SlaVersion, error: DomainError, **forms
) -> HttpResponse:
    if request.htmx:
        # A refusal tied to a form or a button is said there; only the others go on top (and
        # a button's too when the version is no longer editable: the button is gone).
        editable = version.status in (VersionStatus.DRAFT, VersionStatus.AWAITING_SIGNATURES)
        top = error.message if not forms or ("problem" in forms and not editable) else None
        return _render_version(request, version, status=error.status_code, error=top, **forms)
    messages.error(request, error.message)
    return redirect("sla:version_detail", pk=version.pk)


# --- overview, drafts ----------------------------------------------------------------


@roles_required(*ALL_ROLES)
def overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    active = selectors.active_version(now=now)
    if active is not None:
        active = _get_version(active.pk)
    scheduled = selectors.version_scheduled(now=now)
    versions = Paginator(selectors.version_list(), 25).get_page(request.GET.get("page"))
    for version in versions:
        version.phase = selectors.version_phase(version, now=now)
        version.outdated_by = selectors.version_outdated_by(version)
    return render(
        request,
        "sla/overview.html",
        {
            "active": active,
            "scheduled": scheduled,
            "active_rows": _commitment_rows(active) if active else [],
            "versions": versions,
            "templates": TEMPLATES.values(),
            "can_draft": request.user.role in DRAFTERS,
            "display_zone": _display_zone(active),
        },
    )


@roles_required(*DRAFTERS)
@require_POST
def version_create(request: HttpRequest) -> HttpResponse:
    form = NewVersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a template or a version to start from.")
        return redirect("sla:overview")
    source = None
    if form.cleaned_data.get("from_version"):
        source = SlaVersion.objects.filter(pk=form.cleaned_data["from_version"]).first()
        if source is None:
            raise Http404("No such version.")
    try:
        version = services.version_create(
            actor=request.user,
            template_key=form.cleaned_data.get("template") or None,
            from_version=source,
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("sla:overview")
    messages.success(
        request, f"Draft v{version.number} created. Review it, then submit it for signatures."
    )
    return redirect("sla:version_detail", pk=version.pk)


@roles_required(*ALL_ROLES)
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_version(request, _get_version(pk))


@roles_required(*DRAFTERS)
@require_POST
def version_edit(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    form = VersionForm(request.POST)
    if not form.is_valid():
        return _refused(
            request, version, DomainError("Check the highlighted fields."), version_form=form
        )
    data = form.cleaned_data
    try:
        services.version_update(
            version=version,
            actor=request.user,
            purpose=data["purpose"],
            calendar=data["calendar"],
            mql_definition=data["mql_definition"],
            effective_at=data["effective_at"],
            review_date=data["review_date"],
        )
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _refused(request, version, error, version_form=form)
    return _after_change(request, version, "Saved.")


@roles_required(*DRAFTERS)
@require_POST
def commitment_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    form = CommitmentForm(request.POST, prefix="new")
    if not form.is_valid():
        return _refused(
            request,
            version,
            DomainError("Check the commitment's fields."),
            new_commitment_form=form,
        )
    try:
        commitment = services.commitment_add(
            version=version, actor=request.user, **form.service_values()
        )
    except DomainError as error:
        field = error.field.removeprefix("params.")
        form.add_error(field if field in form.fields else None, error.message)
        return _refused(request, version, error, new_commitment_form=form)
    return _after_change(request, version, f"Added “{commitment}”.")


@roles_required(*DRAFTERS)
@require_POST
def commitment_edit(request: HttpRequest, pk: int, commitment_pk: int) -> HttpResponse:
    commitment = get_object_or_404(
        Commitment.objects.select_related("version"), pk=commitment_pk, version_id=pk
    )
    form = CommitmentForm(request.POST, prefix=f"c{commitment.pk}")
    if not form.is_valid():
        return _refused(
            request,
            commitment.version,
            DomainError("Check the commitment's fields."),
            commitment_form=form,
        )
    try:
        services.commitment_update(
            commitment=commitment, actor=request.user, **form.service_values()
        )
    except DomainError as error:
        field = error.field.removeprefix("params.")
        form.add_error(field if field in form.fields else None, error.message)
        return _refused(request, commitment.version, error, commitment_form=form)
    return _after_change(request, commitment.version, f"Updated “{commitment}”.")


@roles_required(*DRAFTERS)
@require_POST
def commitment_remove(request: HttpRequest, pk: int, commitment_pk: int) -> HttpResponse:
    commitment = get_object_or_404(
        Commitment.objects.select_related("version"), pk=commitment_pk, version_id=pk
    )
    version = commitment.version
    try:
        services.commitment_remove(commitment=commitment, actor=request.user)
    except DomainError as error:
        return _refused(
            request, version, error, problem={("commitment", commitment.pk): error.message}
        )
    return _after_change(request, version, "Commitment removed.")


@roles_required(*DRAFTERS)
@require_POST
def escalation_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    commitments = list(version.commitments.all())
    form = EscalationForm(request.POST, commitments=commitments, prefix="esc")
    if not form.is_valid():
        return _refused(
            request, version, DomainError("Check the escalation rule."), escalation_form=form
        )
    data = form.cleaned_data
    commitment = form.commitments[data["commitment"]]
    threshold = data["threshold"] / 100 if commitment.metric in RATE_METRICS else data["threshold"]
    try:
        services.escalation_rule_add(
            version=version,
            actor=request.user,
            commitment=commitment,
            threshold=threshold,
            periods=data["periods"],
            period_kind=data["period_kind"],
            notify_role=data["notify_role"],
        )
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _refused(request, version, error, escalation_form=form)
    return _after_change(request, version, "Escalation rule added.")


@roles_required(*DRAFTERS)
@require_POST
def escalation_remove(request: HttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    rule = get_object_or_404(
        EscalationRule.objects.select_related("version"), pk=rule_pk, version_id=pk
    )
    version = rule.version
    try:
        services.escalation_rule_remove(rule=rule, actor=request.user)
    except DomainError as error:
        return _refused(request, version, error, problem={("escalation", rule.pk): error.message})
    return _after_change(request, version, "Escalation rule removed.")


@roles_required(*DRAFTERS)
@require_POST
def version_submit(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    try:
        services.version_submit(version=version, actor=request.user)
    except DomainError as error:
        return _refused(request, version, error)
    messages.success(
        request, "Submitted. The marketing leader and the sales leader have been asked to sign."
    )
    return redirect("sla:version_detail", pk=version.pk)


@roles_required(*SIGNERS)
@require_POST
def version_sign(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    form = SignForm(request.POST)
    if form.is_valid():
        try:
            services.version_sign(
                version=version,
                actor=request.user,
                channel="web",
                password=form.cleaned_data["password"],
                content_hash=form.cleaned_data.get("content_hash") or "",
                ip_address=_client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        except DomainError as error:
            form.add_error("password" if error.field == "password" else None, error.message)
        else:
            version.refresh_from_db()
            if version.status == VersionStatus.ACTIVE:
                messages.success(
                    request, f"Signed. SLA v{version.number} is now signed by both leaders."
                )
            else:
                messages.success(request, "Signed. Waiting for the other leader's signature.")
            return redirect("sla:version_detail", pk=version.pk)
    return _render_version(request, version, status=400, sign_form=form)


@roles_required(*ALL_ROLES)
def version_verify(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    verification = selectors.version_verify(version=version)
    context = {
        "version": version,
        "verification": verification,
        "display_zone": _display_zone(version),
    }
    template = "sla/version_verify.html#result" if request.htmx else "sla/version_verify.html"
    return render(request, template, context)


# --- the printable agreement, history ----------------------------------------------


def _document(request: HttpRequest, version: SlaVersion) -> HttpResponse:
    commitments = list(version.commitments.all())
    by_team = {}
    for row in _commitment_rows(version):
        by_team.setdefault(row["commitment"].get_owner_team_display(), []).append(row)
    snapshot = version.calendar_snapshot or (
        services.calendar_snapshot(version.calendar) if version.calendar_id else {}
    )
    return render(
        request,
        "sla/document.html",
        {
            "version": version,
            "by_team": by_team,
            "commitments": commitments,
            "escalation_rows": _escalation_rows(version),
            "mql_lines": _mql_lines(version),
            "week": describe_week(snapshot.get("week") or []),
            "snapshot": snapshot,
            "signatures": selectors.live_signatures(version, list(version.signatures.all())),
            "display_zone": _display_zone(version),
            "in_force_now": selectors.active_version() == version,
        },
    )


@roles_required(*ALL_ROLES)
def document(request: HttpRequest) -> HttpResponse:
    active = selectors.active_version()
    if active is None:
        return render(request, "sla/document_none.html", status=404)
    return _document(request, _get_version(active.pk))


@roles_required(*ALL_ROLES)
def version_document(request: HttpRequest, pk: int) -> HttpResponse:
    return _document(request, _get_version(pk))


@roles_required(*ALL_ROLES)
def history(request: HttpRequest) -> HttpResponse:
    versions = list(selectors.version_detail_queryset().order_by("-contract_id", "-number")[:50])
    by_pk = {v.pk: v for v in versions}
    try:
        new = by_pk.get(int(request.GET.get("b", "")))
        old = by_pk.get(int(request.GET.get("a", "")))
    except ValueError:
        new = old = None
    if new is None and versions:
        new = versions[0]
    if old is None and new is not None:
        older = [v for v in versions if v.contract_id == new.contract_id and v.number < new.number]
        old = older[0] if older else None
    diff = selectors.version_diff(old=old, new=new) if new else []
    timeline = selectors.version_timeline(versions=versions)
    for version in versions:
        version.steps = timeline.get(version.pk, [])
    return render(
        request,
        "sla/history.html",
        {
            "versions": versions,
            "old": old,
            "new": new,
            "diff": diff,
        },
    )


# --- business calendars (admins) -------------------------------------------------------


def _calendar_kwargs(data: dict) -> dict:
    return {
        "name": data["name"],
        "timezone_name": data["timezone"],
        "week": data["week"],
        "holiday_country": data.get("holiday_country") or "",
        "holiday_subdivision": data.get("holiday_subdivision") or "",
        "closed_dates": data["closed_list"],
    }


def _form_error(form, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    if error.field == "week":
        field = None
    form.add_error(field, error.message)


@roles_required(Role.ADMIN)
def calendar_list(request: HttpRequest) -> HttpResponse:
    form = CalendarForm(
        request.POST or None,
        initial={**{f"day_{i}": "09:00-17:00" for i in range(5)}, "timezone": "UTC"},
    )
    if request.method == "POST" and form.is_valid():
        try:
            calendar = services.calendar_create(
                actor=request.user,
                is_default=form.cleaned_data["is_default"],
                **_calendar_kwargs(form.cleaned_data),
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, f"Calendar “{calendar.name}” created.")
            return redirect("sla:calendar_edit", pk=calendar.pk)
    calendars = [
        {"calendar": c, "week": [(day[:3], hours) for day, hours in describe_week(c.week or [])]}
        for c in selectors.calendar_list()
    ]
    return render(
        request,
        "sla/calendar_list.html",
        {"calendars": calendars, "form": form, **_preview_defaults()},
        status=400 if request.method == "POST" else 200,
    )


@roles_required(Role.ADMIN)
def calendar_edit(request: HttpRequest, pk: int) -> HttpResponse:
    calendar = get_object_or_404(BusinessCalendar, pk=pk)
    form = CalendarForm(request.POST or None, initial=CalendarForm.initial_for(calendar))
    if request.method == "POST" and form.is_valid():
        try:
            services.calendar_update(
                calendar=calendar,
                actor=request.user,
                is_default=form.cleaned_data["is_default"] or None,
                **_calendar_kwargs(form.cleaned_data),
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(
                request,
                f"Calendar “{calendar.name}” saved. Submitted SLA versions keep their frozen copy; "
                "running clocks never move.",
            )
            return redirect("sla:calendar_edit", pk=calendar.pk)
    return render(
        request,
        "sla/calendar_edit.html",
        {"calendar": calendar, "form": form, **_preview_defaults()},
        status=400 if request.method == "POST" else 200,
    )


def _preview_defaults() -> dict:
    now = timezone.now()
    # Next Saturday 10:00: the classic case of an arrival outside working hours.
    saturday = (now + timedelta(days=(5 - now.weekday()) % 7 or 7)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    return {"preview_arrival": saturday.strftime("%Y-%m-%dT%H:%M"), "preview_hours": 4}


@roles_required(Role.ADMIN)
def calendar_preview(request: HttpRequest) -> HttpResponse:
    """htmx: "a lead arriving at … is due at …" for the calendar being edited, before it is saved."""
    form = CalendarPreviewForm(request.GET)
    if not form.is_valid():
        errors = [m for field_errors in form.errors.values() for m in field_errors]
        context = {"problem": errors[0] if errors else "Check the calendar."}
    else:
        data = form.cleaned_data
        typed = data.get("arrival")
        # The form reads the typed wall-clock time in the server's zone; it is meant in
        # the calendar's, so keep only the wall clock.
        if typed is not None and timezone.is_aware(typed):
            typed = timezone.make_naive(typed)
        context = selectors.calendar_preview(
            calendar_data={
                "timezone": data["timezone"],
                "week": data["week"],
                "holiday_country": data.get("holiday_country") or "",
                "holiday_subdivision": (data.get("holiday_subdivision") or "").upper(),
                "closed_dates": data["closed_list"],
            },
            arrival_wall_clock=typed,
            hours=data.get("hours") or 4,
        )
    return render(request, "sla/_calendar_preview.html", context)
