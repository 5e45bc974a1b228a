"""Browser views for people, invitations, tokens and the signup hand-off."""

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth import login
from django.core import signing
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts import audit_wording, selectors, services
from apps.accounts.access import roles_required
from apps.accounts.csv_export import csv_response
from apps.accounts.exceptions import DomainError
from apps.accounts.forms import (
    ApiKeyForm,
    AuditFilterForm,
    InvitationAcceptForm,
    InviteForm,
    UserEditForm,
)
from apps.accounts.models import ApiKey, User
from apps.accounts.roles import ALL_ROLES, Role

SIGNUP_SALT = "handoff.signup-handoff"
# static/js/requests.js shows this (URL-quoted) text next to the control of a refused request.
REQUEST_MESSAGE_HEADER = "X-Handoff-Message"
SIGNUP_MAX_AGE = 300  # seconds: the link is followed by the browser straight away


def signup_handoff_token(user: User) -> str:
    """A short-lived, single-use token that logs the new admin in on the organization's host."""
    last = user.last_login.isoformat() if user.last_login else None
    return signing.dumps({"u": user.pk, "s": connection.schema_name, "l": last}, salt=SIGNUP_SALT)


def signup_welcome(request: HttpRequest) -> HttpResponse:
    """Land the admin who just created the organization on its host, logged in."""
    try:
        data = signing.loads(request.GET.get("t", ""), salt=SIGNUP_SALT, max_age=SIGNUP_MAX_AGE)
    except signing.BadSignature as exc:
        raise Http404("This sign-in link is invalid or has expired.") from exc
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    last = user.last_login.isoformat() if user and user.last_login else None
    # The last-login stamp changes at the first use, which makes the link single-use.
    if user is None or data.get("s") != connection.schema_name or data.get("l") != last:
        raise Http404("This sign-in link is invalid or has already been used.")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, f"Welcome to {request.tenant.name}! Start by inviting your team.")
    return redirect("accounts:user_list")


@roles_required(Role.ADMIN)
def user_list(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, _ = services.user_invite(
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Invitation sent to {user.email}.")
            return redirect("accounts:user_list")
    page = Paginator(selectors.user_list(), 50).get_page(request.GET.get("page"))
    return render(
        request, "accounts/user_list.html", {"page": page, "form": form, "roles": Role.choices}
    )


@roles_required(Role.ADMIN)
@require_POST
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    form = UserEditForm(request.POST)
    error, status = None, 200
    if form.is_valid():
        try:
            user = services.user_update(
                user=user,
                actor=request.user,
                role=form.cleaned_data["role"],
                is_active=form.cleaned_data["is_active"],
            )
        except DomainError as exc:
            error, status = exc.message, exc.status_code
    else:
        error, status = "; ".join(m for errors in form.errors.values() for m in errors), 400
    if request.htmx:
        user.refresh_from_db()
        return render(
            request,
            "accounts/user_list.html#user-row",
            # Refused: the row shows the stored role and state again, and says why.
            {"u": user, "roles": Role.choices, "row_error": error, "row_saved": error is None},
            status=status,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{user.email} updated.")
    return redirect("accounts:user_list")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = InvitationAcceptForm(request.POST or None, initial={"name": invitation.user.name})
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                invitation=invitation,
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Your password is set. Welcome aboard.")
            return redirect("home")
    return render(
        request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation}
    )


@roles_required(*ALL_ROLES)
def profile(request: HttpRequest) -> HttpResponse:
    new_token = None
    if request.method == "POST":
        _, new_token = services.personal_token_rotate(user=request.user)
        messages.success(request, "New personal token created. Copy it now: it is shown only once.")
    return render(
        request,
        "accounts/profile.html",
        {
            "token": selectors.personal_token_current(user=request.user),
            "new_token": new_token,
            "role_label": Role(request.user.role).label,
        },
    )


@roles_required(Role.ADMIN)
def api_key_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = services.api_key_create(
            name=form.cleaned_data["name"], created_by=request.user
        )
        messages.success(request, "API key created. Copy it now: it is shown only once.")
        form = ApiKeyForm()
    return render(
        request,
        "accounts/api_key_list.html",
        {"keys": selectors.organization_api_key_list(), "form": form, "new_token": new_token},
    )


@roles_required(Role.ADMIN)
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk, kind=ApiKey.Kind.ORGANIZATION)
    services.api_key_revoke(api_key=key, actor=request.user)
    messages.success(request, f"“{key.name}” revoked.")
    return redirect("accounts:api_key_list")


AUDIT_PAGE_SIZE = 50


def _audit_row(event, zone: str) -> dict:
    return {
        "event": event,
        "sentence": audit_wording.describe(event.action, event.target, event.detail),
        "details": audit_wording.detail_lines(event.action, event.detail, zone=zone),
        "kind": audit_wording.KINDS.get(audit_wording.kind_of(event.action) or "", ("Other",))[0],
    }


@roles_required(Role.ADMIN)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Who changed what, in words: filter by person, kind, days and words; page; export CSV."""
    form = AuditFilterForm(request.GET or None, people=selectors.audit_people())
    events = selectors.audit_event_list(**form.selection())
    zone = timezone.get_current_timezone_name()
    if request.GET.get("format") == "csv":
        return csv_response(
            filename=f"audit-log-{timezone.localdate():%Y%m%d}.csv",
            header=["when", "time zone", "who", "kind", "what", "details", "code"],
            rows=(
                (
                    timezone.localtime(row["event"].occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
                    zone,
                    row["event"].actor or "system / API key",
                    row["kind"],
                    row["sentence"],
                    "; ".join(row["details"]),
                    row["event"].action,
                )
                for row in (_audit_row(event, zone) for event in events.iterator(chunk_size=500))
            ),
        )
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return render(
        request,
        "accounts/audit_log.html",
        {
            "form": form,
            "page": page,
            "rows": [_audit_row(event, zone) for event in page.object_list],
            "query": query.urlencode(),
            "filtered": any(form.data.get(k) for k in ("person", "kind", "since", "until", "q")),
        },
    )


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    reason = str(exception or "")
    response = render(request, "403.html", {"reason": reason}, status=403)
    if getattr(request, "htmx", False) and reason:
        # The page is not swapped into a partial; the reason is said next to the control.
        response[REQUEST_MESSAGE_HEADER] = quote(reason)
    return response
