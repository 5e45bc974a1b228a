"""The public site: what Handoff is, and creating an organization.

Signup is three steps, none of them slow for the web process: the form checks the request
and e-mails a confirmation link; the link queues the provisioning in a worker; the progress
page follows it and, in the browser that confirmed, signs the new admin in on the new host.
"""

from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.throttles import client_address
from apps.accounts.views import signup_handoff_token
from apps.tenants import services
from apps.tenants.addresses import organization_url
from apps.tenants.exceptions import OrganizationError, SignupThrottled
from apps.tenants.forms import SignupForm
from apps.tenants.models import SignupRequest

CONFIRMED_COOKIE = "handoff_signup"
CONFIRMED_SALT = "handoff.signup-confirmed"


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", {"base_domain": settings.BASE_DOMAIN})


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            created = services.signup_request_create(
                **form.cleaned_data, client_ip=client_address(request)
            )
        except SignupThrottled as exc:
            form.add_error(None, exc.message)
            status = 429
        except OrganizationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("signup_progress", public_id=created.public_id)
    return render(
        request,
        "public/signup.html",
        {"form": form, "base_domain": settings.BASE_DOMAIN, "port": settings.SITE_PORT},
        status=status,
    )


def signup_verify(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: confirm the address, queue the provisioning, follow its progress.
    This browser gets a signed cookie: it is the one that will be signed in when ready."""
    confirmed = services.signup_verify(token=token)
    if confirmed is None:
        raise Http404("This confirmation link is invalid or has expired; please sign up again.")
    response = redirect("signup_progress", public_id=confirmed.public_id)
    response.set_signed_cookie(
        CONFIRMED_COOKIE,
        str(confirmed.public_id),
        salt=CONFIRMED_SALT,
        max_age=60 * 60 * 24,
        httponly=True,
        samesite="Lax",
        secure=not settings.DEBUG,
    )
    return response


def _confirmed_here(request: HttpRequest, signup: SignupRequest) -> bool:
    value = request.get_signed_cookie(CONFIRMED_COOKIE, default=None, salt=CONFIRMED_SALT)
    return value == str(signup.public_id)


def signup_progress(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Where a signup stands; polled by htmx every second while a worker provisions it."""
    signup = get_object_or_404(SignupRequest, public_id=public_id)
    now = timezone.now()
    services.signup_requeue_stalled(signup=signup, now=now)
    confirmed_here = _confirmed_here(request, signup)
    if signup.status == SignupRequest.Status.READY and confirmed_here:
        target = _welcome_url(signup)
        if target:
            return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    typical = services.signup_typical_seconds()
    elapsed = (now - signup.started_at).total_seconds() if signup.started_at else 0.0
    context = {
        "signup": signup,
        "confirmed_here": confirmed_here,
        # An estimate from how long recent signups took; it never claims to be done early.
        "percent": 100 if signup.is_finished else min(95, int(100 * elapsed / typical)),
        "typical_seconds": round(typical),
        "organization_url": organization_url(signup.organization, "/accounts/login/")
        if signup.organization
        else "",
        "poll": "every 1s" if signup.status != SignupRequest.Status.AWAITING_EMAIL else "every 3s",
    }
    template = "public/signup_progress.html"
    return render(request, f"{template}#status" if request.htmx else template, context)


def _welcome_url(signup: SignupRequest) -> str | None:
    """A single-use sign-in link for the new admin on the organization's host."""
    if signup.organization is None:
        return None
    with schema_context(signup.organization.schema_name):
        admin = User.objects.filter(email=signup.admin_email, is_active=True).first()
        if admin is None or admin.last_login is not None:
            return None  # already signed in once: the login page is the way in now
        token = signup_handoff_token(admin)
    welcome = reverse("accounts:welcome", urlconf="config.urls_tenant")
    return organization_url(signup.organization, f"{welcome}?t={token}")
