"""Pages of the MQL/PQL definitions: versions, the htmx rule builder, publishing, comments, back-tests."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts.access import roles_required
from apps.accounts.exceptions import DomainError
from apps.accounts.roles import ALL_ROLES
from apps.mql import rule_builder, selectors, services
from apps.mql.forms import BacktestForm, CommentForm, DraftCreateForm
from apps.mql.models import BacktestRun, DefinitionKind, DefinitionStatus, MqlDefinition
from apps.mql.rule_builder import FIELD_OP_LABELS
from apps.mql.rules import (
    ACTIVITY_KINDS,
    COUNT_MODES,
    FIELD_LABELS,
    FIELD_OPS,
    PROPERTY_MATCHES,
    DefinitionError,
    definition_warnings,
    describe_definition,
    parse_definition,
)

DRAFTERS = tuple(services.DRAFTER_ROLES)
PUBLISHERS = tuple(services.PUBLISHER_ROLES)
COMMENTERS = tuple(services.COMMENTER_ROLES)
BACKTESTERS = tuple(services.BACKTEST_ROLES)

BUILDER_CHOICES = {
    "fields": sorted(FIELD_LABELS.items(), key=lambda item: item[1]),
    "field_names": frozenset(FIELD_LABELS),
    "field_ops": [(op, FIELD_OP_LABELS[op]) for op in FIELD_OP_LABELS if op in FIELD_OPS],
    "kinds": sorted(ACTIVITY_KINDS),
    "property_matches": sorted(PROPERTY_MATCHES),
    "count_modes": sorted(COUNT_MODES),
    "decay_kinds": [("half_life", "half-life"), ("linear", "linear window"), ("none", "none")],
}


def _user_can(user, roles) -> bool:
    return getattr(user, "role", None) in roles


@roles_required(*ALL_ROLES)
def definition_list(request: HttpRequest) -> HttpResponse:
    versions = list(selectors.definition_list())
    by_kind = {
        kind: [d for d in versions if d.kind == kind] for kind, _label in DefinitionKind.choices
    }
    return render(
        request,
        "mql/definition_list.html",
        {
            "by_kind": [(kind, label, by_kind[kind]) for kind, label in DefinitionKind.choices],
            "can_draft": _user_can(request.user, services.DRAFTER_ROLES),
        },
    )


@roles_required(*DRAFTERS)
@require_POST
def definition_create(request: HttpRequest) -> HttpResponse:
    form = DraftCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose MQL or PQL.")
        return redirect("mql:definition_list")
    kind = form.cleaned_data["kind"]
    based_on = None
    if form.cleaned_data.get("based_on"):
        based_on = get_object_or_404(MqlDefinition, pk=form.cleaned_data["based_on"])
    name = form.cleaned_data.get("name") or (
        f"{based_on.name} (draft)" if based_on else f"New {kind.upper()} definition"
    )
    try:
        draft = services.definition_draft_create(
            kind=kind, name=name, based_on=based_on, actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("mql:definition_list")
    messages.success(request, f"Draft v{draft.version} created.")
    return redirect("mql:definition_edit", pk=draft.pk)


@roles_required(*ALL_ROLES)
def definition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    definition = get_object_or_404(
        MqlDefinition.objects.select_related("created_by", "published_by"), pk=pk
    )
    parsed = selectors.definition_parsed(definition)
    return render(
        request,
        "mql/definition_detail.html",
        {
            "definition": definition,
            "sentences": describe_definition(parsed) if parsed else [],
            "warnings": definition_warnings(parsed) if parsed else [],
            "comments": selectors.definition_comment_list(definition=definition),
            "comment_form": CommentForm(),
            "backtests": selectors.backtest_run_list(definition=definition)[:10],
            "backtest_form": BacktestForm(),
            "active": selectors.definition_active_map().get(definition.kind),
            "can_edit": definition.status == DefinitionStatus.DRAFT
            and _user_can(request.user, services.DRAFTER_ROLES),
            "can_draft": _user_can(request.user, services.DRAFTER_ROLES),
            "can_publish": definition.status == DefinitionStatus.DRAFT
            and _user_can(request.user, services.PUBLISHER_ROLES),
            "can_comment": _user_can(request.user, services.COMMENTER_ROLES),
            "can_backtest": _user_can(request.user, services.BACKTEST_ROLES),
        },
    )


def _builder_context(definition, rules, *, errors=(), saved=False) -> dict:
    try:
        warnings = definition_warnings(parse_definition(rules))
    except DefinitionError:
        warnings = []  # shown once the errors are fixed
    return {
        "definition": definition,
        "builder": rule_builder.builder_view(rules, list(errors)),
        "warnings": warnings,
        "saved": saved,
        "choices": BUILDER_CHOICES,
        "has_errors": bool(errors),
    }


def _editable_draft(pk: int) -> MqlDefinition:
    definition = get_object_or_404(MqlDefinition, pk=pk)
    if definition.status != DefinitionStatus.DRAFT:
        raise Http404("Only drafts can be edited.")
    return definition


@roles_required(*DRAFTERS)
def definition_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The rule builder. POST saves (validated); errors come back next to their inputs."""
    definition = get_object_or_404(MqlDefinition, pk=pk)
    if definition.status != DefinitionStatus.DRAFT:
        messages.info(
            request, "Published and retired versions cannot change: start a new draft from it."
        )
        return redirect("mql:definition_detail", pk=pk)
    if request.method != "POST":
        return render(
            request, "mql/definition_edit.html", _builder_context(definition, definition.rules)
        )
    rules = rule_builder.form_to_rules(request.POST)
    name = request.POST.get("name", definition.name)
    try:
        definition = services.definition_draft_update(
            definition=definition,
            actor=request.user,
            name=name,
            rules=rules,
            notes=request.POST.get("notes", definition.notes),
        )
    except services.DefinitionInvalid as exc:
        context = _builder_context(definition, rules, errors=exc.errors)
    except DomainError as exc:
        context = _builder_context(definition, rules, errors=[(exc.field, exc.message)])
    else:
        context = _builder_context(definition, definition.rules, saved=True)
    template = "mql/definition_edit.html#builder" if request.htmx else "mql/definition_edit.html"
    return render(request, template, context, status=422 if context["has_errors"] else 200)


@roles_required(*DRAFTERS)
@require_POST
def definition_builder(request: HttpRequest, pk: int) -> HttpResponse:
    """One builder edit (add/remove a condition, group, rule or cap) without saving: htmx swaps it in."""
    definition = _editable_draft(pk)
    rules = rule_builder.apply_edit(
        rule_builder.form_to_rules(request.POST), request.POST.get("edit", "")
    )
    definition.name = request.POST.get("name", definition.name)
    definition.notes = request.POST.get("notes", definition.notes)
    template = "mql/definition_edit.html#builder" if request.htmx else "mql/definition_edit.html"
    return render(request, template, _builder_context(definition, rules))


@roles_required(*PUBLISHERS)
@require_POST
def definition_publish(request: HttpRequest, pk: int) -> HttpResponse:
    definition = get_object_or_404(MqlDefinition, pk=pk)
    try:
        services.definition_publish(definition=definition, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{definition.get_kind_display()} v{definition.version} is published: "
            "new evaluations use it from now on.",
        )
    return redirect("mql:definition_detail", pk=pk)


@roles_required(*COMMENTERS)
@require_POST
def definition_comment(request: HttpRequest, pk: int) -> HttpResponse:
    definition = get_object_or_404(MqlDefinition, pk=pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.definition_comment_add(
                definition=definition, author=request.user, body=form.cleaned_data["body"]
            )
        except DomainError as exc:
            form.add_error("body", exc.message)
        else:
            form = CommentForm()
    if not request.htmx:
        if form.errors:
            messages.error(request, "; ".join(m for e in form.errors.values() for m in e))
        return redirect("mql:definition_detail", pk=pk)
    return render(
        request,
        "mql/definition_detail.html#comments",
        {
            "definition": definition,
            "comments": selectors.definition_comment_list(definition=definition),
            "comment_form": form,
            "can_comment": True,
        },
        status=422 if form.errors else 200,
    )


@roles_required(*BACKTESTERS)
@require_POST
def backtest_start(request: HttpRequest, pk: int) -> HttpResponse:
    definition = get_object_or_404(MqlDefinition, pk=pk)
    form = BacktestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(m for e in form.errors.values() for m in e))
        return redirect("mql:definition_detail", pk=pk)
    try:
        run = services.backtest_start(
            definition=definition, days=form.cleaned_data["days"], actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("mql:definition_detail", pk=pk)
    if request.htmx:
        return HttpResponseClientRedirect(run_url(run))
    return redirect(run_url(run))


def run_url(run: BacktestRun) -> str:
    return reverse("mql:backtest_detail", kwargs={"pk": run.pk})


@roles_required(*BACKTESTERS)
def backtest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        BacktestRun.objects.select_related("definition", "baseline", "created_by"), pk=pk
    )
    template = "mql/backtest_detail.html#result" if request.htmx else "mql/backtest_detail.html"
    return render(request, template, {"run": run, **selectors.backtest_presentation(run=run)})
