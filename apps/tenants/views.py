"""The public site: what Handoff is, and creating an organization."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.views import signup_handoff_token
from apps.tenants import services
from apps.tenants.addresses import organization_url
from apps.tenants.exceptions import OrganizationError
from apps.tenants.forms import SignupForm


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", {"base_domain": settings.BASE_DOMAIN})


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_create(**form.cleaned_data)
        except OrganizationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            with schema_context(organization.schema_name):
                admin = User.objects.get(email=form.cleaned_data["admin_email"].lower())
                token = signup_handoff_token(admin)
            return redirect(
                organization_url(
                    organization,
                    f"{reverse('accounts:welcome', urlconf='config.urls_tenant')}?t={token}",
                )
            )
    return render(
        request,
        "public/signup.html",
        {"form": form, "base_domain": settings.BASE_DOMAIN, "port": settings.SITE_PORT},
    )
