"""Browser views for people, invitations, tokens and the signup hand-off."""

from datetime import datetime, timedelta
from urllib.parse import quote

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core import signing
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_POST

from apps.accounts import audit_wording, selectors, services, two_factor
from apps.accounts.access import roles_required
from apps.accounts.csv_export import csv_lines
from apps.accounts.exceptions import DomainError
from apps.accounts.forms import (
    ApiKeyForm,
    AuditFilterForm,
    EmailLoginForm,
    InvitationAcceptForm,
    InviteForm,
    TokenForm,
    TwoFactorCodeForm,
    TwoFactorDisableForm,
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


def login_unlock(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed unlock link: lift the sign-in lockout and go to the sign-in page."""
    user = services.login_unlock(token=token, ip_address=get_client_ip_address(request))
    if user is None:
        raise Http404("This unlock link is invalid or has expired.")
    messages.success(request, "Signing in is possible again. Enter your password.")
    return redirect("accounts:login")


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
        request,
        "accounts/user_list.html",
        {
            "page": page,
            "form": form,
            "roles": Role.choices,
            "two_factor_required": bool(getattr(request.tenant, "two_factor_required", False)),
        },
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


# --- sign-in: the password, then (with two-factor) a one-time code ----------------------

PENDING_KEY = "two_factor_pending"
PENDING_MAX_AGE = timedelta(minutes=5)
PENDING_MAX_TRIES = 5
AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


class LoginView(auth_views.LoginView):
    """The password; then, for a person with two-factor on (or required), a second step."""

    authentication_form = EmailLoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if two_factor.is_enabled(user) or two_factor.is_required(user):
            until = timezone.now() + PENDING_MAX_AGE
            self.request.session[PENDING_KEY] = {
                "user": user.pk,
                "until": until.isoformat(),
                "next": self.get_success_url(),
                "tries": 0,
            }
            return redirect("accounts:login_two_factor")
        return super().form_valid(form)


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING_KEY) or {}
    until = pending.get("until")
    if not until or timezone.now() > datetime.fromisoformat(until):
        request.session.pop(PENDING_KEY, None)
        return None
    return User.objects.filter(pk=pending.get("user"), is_active=True).first()


def login_two_factor(request: HttpRequest) -> HttpResponse:
    """Second sign-in step: the authenticator code — or, when the organization requires
    two-factor and the person has none yet, enrolling the app right here."""
    user = _pending_user(request)
    if user is None:
        messages.error(request, "Sign in again: the sign-in step expired.")
        return redirect("accounts:login")
    enrolling = not two_factor.is_enabled(user)
    device = two_factor.device_of(user)
    if enrolling and device is None:
        device = two_factor.enrolment_start(user=user)
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        pending = request.session[PENDING_KEY]
        code = form.cleaned_data["code"]
        recovery_codes = None
        try:
            if enrolling:
                recovery_codes = two_factor.enrolment_confirm(user=user, code=code)
            elif not two_factor.code_verify(user=user, code=code):
                raise DomainError("That code does not match.", field="code")
        except DomainError as error:
            pending["tries"] = pending.get("tries", 0) + 1
            request.session[PENDING_KEY] = pending
            if pending["tries"] >= PENDING_MAX_TRIES:
                request.session.pop(PENDING_KEY, None)
                messages.error(request, "Too many wrong codes: sign in again.")
                return redirect("accounts:login")
            form.add_error("code", error.message)
        else:
            next_url = pending.get("next") or settings.LOGIN_REDIRECT_URL
            request.session.pop(PENDING_KEY, None)
            login(request, user, backend=AUTH_BACKEND)
            if recovery_codes:
                return render(
                    request,
                    "accounts/two_factor_codes.html",
                    {"codes": recovery_codes, "next": next_url},
                )
            return redirect(next_url)
    context = {"form": form, "enrolling": enrolling, "required": two_factor.is_required(user)}
    if enrolling:
        uri = two_factor.provisioning_uri(device)
        context.update(qr=two_factor.qr_svg(uri), secret=device.secret)
    return render(request, "accounts/login_two_factor.html", context, status=200)


# --- profile: personal tokens, two-factor ---------------------------------------------------


@roles_required(*ALL_ROLES)
def profile(request: HttpRequest) -> HttpResponse:
    max_age = settings.PERSONAL_TOKEN_MAX_AGE_DAYS
    form = TokenForm(request.POST or None, user=request.user, max_age_days=max_age)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = services.api_key_create(
                name=form.cleaned_data["name"],
                created_by=request.user,
                user=request.user,
                scopes=form.cleaned_data["scopes"],
                expires_in=timedelta(days=form.cleaned_data["expires_in_days"]),
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, "Token created. Copy it now: it is shown only once.")
            form = TokenForm(user=request.user, max_age_days=max_age)
    return render(
        request,
        "accounts/profile.html",
        {
            "tokens": selectors.personal_token_list(user=request.user),
            "form": form,
            "new_token": new_token,
            "role_label": Role(request.user.role).label,
            "two_factor_on": two_factor.is_enabled(request.user),
            "two_factor_required": two_factor.is_required(request.user),
            "recovery_left": two_factor.recovery_codes_left(request.user),
            "disable_form": TwoFactorDisableForm(),
            "sign_minutes": settings.SIGNING_PROOF_MAX_AGE_MINUTES,
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


@roles_required(*ALL_ROLES)
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk, user=request.user)
    services.api_key_revoke(api_key=key, actor=request.user)
    messages.success(request, f"“{key.name}” revoked.")
    return redirect("accounts:profile")


@roles_required(*ALL_ROLES)
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Turn two-factor on: scan the QR code, enter a first code, keep the recovery codes."""
    if two_factor.is_enabled(request.user):
        return redirect("accounts:profile")
    device = two_factor.device_of(request.user) or two_factor.enrolment_start(user=request.user)
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor.enrolment_confirm(user=request.user, code=form.cleaned_data["code"])
        except DomainError as error:
            form.add_error("code", error.message)
        else:
            return render(
                request,
                "accounts/two_factor_codes.html",
                {"codes": codes, "next": reverse("accounts:profile")},
            )
    uri = two_factor.provisioning_uri(device)
    return render(
        request,
        "accounts/two_factor_setup.html",
        {"form": form, "qr": two_factor.qr_svg(uri), "secret": device.secret},
        status=400 if form.errors else 200,
    )


@roles_required(*ALL_ROLES)
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    form = TwoFactorDisableForm(request.POST)
    if form.is_valid():
        try:
            two_factor.disable(
                user=request.user,
                password=form.cleaned_data["password"],
                code=form.cleaned_data["code"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Two-factor sign-in is off.")
    else:
        messages.error(request, "Enter your password and a current code.")
    return redirect("accounts:profile")


@roles_required(Role.ADMIN)
@require_POST
def two_factor_policy(request: HttpRequest) -> HttpResponse:
    required = request.POST.get("required") == "on"
    two_factor.policy_set(required=required, actor=request.user)
    messages.success(
        request,
        "Leaders and admins now sign in with a one-time code."
        if required
        else "Two-factor sign-in is optional again.",
    )
    return redirect("accounts:user_list")


@roles_required(Role.ADMIN)
def api_key_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data.get("expires_in_days")
        try:
            _, new_token = services.api_key_create(
                name=form.cleaned_data["name"],
                created_by=request.user,
                scopes=form.cleaned_data["scopes"] or None,
                expires_in=timedelta(days=days) if days else None,
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
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
        rows = (
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
        )
        response = StreamingHttpResponse(
            csv_lines(["when", "time zone", "who", "kind", "what", "details", "code"], rows),
            content_type="text/csv; charset=utf-8",
        )
        filename = f"audit-log-{timezone.localdate():%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
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


# API clients parse JSON: a URL under /api/ that matches no route (an id that is not a number)
# or a request Django refuses before any view (too many form fields) answers in JSON too.
API_PREFIX = "/api/"


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """404: JSON under /api/ (a client there reads JSON, e.g. for a malformed id in the path),
    the page otherwise."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    reason = str(exception or "")
    response = render(request, "403.html", {"reason": reason}, status=403)
    if getattr(request, "htmx", False) and reason:
        # The page is not swapped into a partial; the reason is said next to the control.
        response[REQUEST_MESSAGE_HEADER] = quote(reason)
    return response


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)
