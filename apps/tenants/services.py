"""Writes on organizations: creating one provisions its schema, domain and first admin."""

import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Avg, F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import Role, User
from apps.accounts.services import organization_defaults_provision, user_create
from apps.accounts.throttles import window_hit
from apps.accounts.tokens import token_hash
from apps.tenants.addresses import organization_domain
from apps.tenants.database_roles import owner_connection
from apps.tenants.exceptions import OrganizationError, SignupThrottled
from apps.tenants.models import Domain, Organization, SignupRequest
from config.celery_app import app as celery_app

logger = logging.getLogger(__name__)

SUBDOMAIN_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
# Names a customer must not take: they are ours, or look like they are.
RESERVED_SUBDOMAINS = frozenset(
    {
        "admin", "api", "app", "assets", "auth", "billing", "blog", "cdn", "dashboard", "demo",
        "dev", "docs", "email", "ftp", "handoff", "help", "localhost", "login", "mail", "media",
        "public", "root", "signup", "smtp", "staging", "static", "status", "support", "system",
        "test", "www",
    }
)  # fmt: skip


def subdomain_validate(subdomain: str) -> str:
    """Normalise and check a requested subdomain; raises OrganizationError naming the field."""
    value = (subdomain or "").strip().lower()
    if not SUBDOMAIN_PATTERN.match(value) or "--" in value:
        raise OrganizationError(
            "subdomain",
            "Use 3–40 lowercase letters, digits or hyphens, starting with a letter "
            "and not ending with a hyphen.",
        )
    if value in RESERVED_SUBDOMAINS or value.startswith("pg"):
        raise OrganizationError("subdomain", f"“{value}” is reserved. Please choose another.")
    if Organization.objects.filter(subdomain=value).exists():
        raise OrganizationError("subdomain", f"“{value}” is already taken.")
    return value


def organization_create(
    *,
    name: str,
    subdomain: str,
    admin_name: str,
    admin_email: str,
    admin_password: str = "",
    admin_password_hash: str = "",
) -> Organization:
    """Create an organization with its own schema and domain, and its first admin user.

    Creating a schema is DDL: the whole creation runs as the owner role, in one
    transaction on its connection (apps/tenants/database_roles.py). Slow (the schema's
    migrations take seconds): the public signup runs it in a worker (signup_provision);
    `admin_password_hash` is the password the signup form checked.
    """
    with owner_connection():
        return _organization_create(
            name=name,
            subdomain=subdomain,
            admin_name=admin_name,
            admin_email=admin_email,
            admin_password=admin_password,
            admin_password_hash=admin_password_hash,
        )


@transaction.atomic
def _organization_create(
    *,
    name: str,
    subdomain: str,
    admin_name: str,
    admin_email: str,
    admin_password: str,
    admin_password_hash: str,
) -> Organization:
    name = (name or "").strip()
    if not name:
        raise OrganizationError("name", "Enter the organization's name.")
    subdomain = subdomain_validate(subdomain)
    try:
        validate_email(admin_email)
    except ValidationError as exc:
        raise OrganizationError("admin_email", "Enter a valid email address.") from exc
    if not admin_password_hash:
        admin_password_validate(admin_password, email=admin_email, name=admin_name)

    organization = Organization(
        name=name, subdomain=subdomain, schema_name=subdomain.replace("-", "_")
    )
    organization.save(verbosity=0)
    Domain.objects.create(
        domain=organization_domain(subdomain), tenant=organization, is_primary=True
    )
    with schema_context(organization.schema_name):
        admin = user_create(
            email=admin_email,
            name=admin_name,
            role=Role.ADMIN,
            password=admin_password or None,
        )
        if admin_password_hash:
            admin.password = admin_password_hash
            admin.save(update_fields=["password"])
        organization_defaults_provision()
    return organization


def admin_password_validate(password: str, *, email: str, name: str) -> None:
    """The password rules for a new organization's admin; OrganizationError names the field."""
    try:
        validate_password(password, User(email=email, name=name))
    except ValidationError as exc:
        raise OrganizationError("admin_password", " ".join(exc.messages)) from exc


def public_tenant_ensure() -> Organization:
    """Make sure the public schema has its organization row and domains (idempotent)."""
    public, _ = Organization.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME,
        defaults={"name": "Handoff", "subdomain": "public"},
    )
    for host in {settings.BASE_DOMAIN, "127.0.0.1"}:
        Domain.objects.get_or_create(
            domain=host, defaults={"tenant": public, "is_primary": host == settings.BASE_DOMAIN}
        )
    return public


# --- public signup: request, e-mail confirmation, provisioning in a worker ----------------

PROVISION_TASK = "apps.tenants.tasks.organization_provision_task"

# A queued signup no worker has started after this long is sent again (broker outage).
SIGNUP_REQUEUE_AFTER = timedelta(minutes=1)
# A provisioning started this long ago by a worker that has since died is started again.
SIGNUP_ABANDONED_AFTER = timedelta(minutes=15)
# How long provisioning usually takes, until there are finished signups to average.
SIGNUP_TYPICAL_SECONDS = 10.0


def public_url(path: str) -> str:
    """Absolute URL of a path on the public site (BASE_DOMAIN)."""
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{settings.BASE_DOMAIN}{port}{path}"


def signup_request_create(
    *,
    name: str,
    subdomain: str,
    admin_name: str,
    admin_email: str,
    admin_password: str,
    client_ip: str | None,
) -> SignupRequest:
    """Check a signup and e-mail its admin a confirmation link; nothing is provisioned yet.

    At most SIGNUP_RATE_PER_ADDRESS requests per client address (SignupThrottled beyond)."""
    allowed, wait = window_hit(f"signup:{client_ip or 'unknown'}", settings.SIGNUP_RATE_PER_ADDRESS)
    if not allowed:
        raise SignupThrottled(wait)
    name = (name or "").strip()
    if not name:
        raise OrganizationError("name", "Enter the organization's name.")
    subdomain = subdomain_validate(subdomain)
    admin_email = (admin_email or "").strip().lower()
    try:
        validate_email(admin_email)
    except ValidationError as exc:
        raise OrganizationError("admin_email", "Enter a valid email address.") from exc
    admin_password_validate(admin_password, email=admin_email, name=admin_name)
    token = secrets.token_urlsafe(32)
    signup = SignupRequest.objects.create(
        public_id=uuid.uuid4(),
        name=name,
        subdomain=subdomain,
        admin_name=(admin_name or "").strip(),
        admin_email=admin_email,
        admin_password_hash=make_password(admin_password),
        token_hash=token_hash(token),
        client_ip=client_ip,
    )
    context = {
        "signup": signup,
        "link": public_url(reverse("signup_verify", args=[token], urlconf="config.urls_public")),
        "hours": settings.SIGNUP_VERIFY_MAX_AGE_HOURS,
        "host": organization_domain(subdomain),
    }
    transaction.on_commit(
        lambda: send_mail(
            subject=f"Confirm your e-mail to create {name} on Handoff",
            message=render_to_string("public/email/signup_verify.txt", context),
            from_email=None,
            recipient_list=[admin_email],
        )
    )
    return signup


@transaction.atomic
def signup_verify(*, token: str, now: datetime | None = None) -> SignupRequest | None:
    """Confirm the e-mail of a signup and queue its provisioning; None for an unknown or expired
    link. Following the link again is harmless: it returns the same signup."""
    now = now or timezone.now()
    signup = (
        SignupRequest.objects.select_for_update().filter(token_hash=token_hash(token or "")).first()
    )
    if signup is None:
        return None
    if signup.status == SignupRequest.Status.AWAITING_EMAIL:
        if now - signup.created_at > timedelta(hours=settings.SIGNUP_VERIFY_MAX_AGE_HOURS):
            return None
        signup.status = SignupRequest.Status.QUEUED
        signup.verified_at = signup.queued_at = now
        signup.save(update_fields=["status", "verified_at", "queued_at"])
        _signup_enqueue(signup.pk)
    return signup


def _signup_enqueue(signup_id: int) -> None:
    """Send the provisioning to the workers after commit. Never raises: with the broker down
    the signup stays queued and signup_requeue_stalled sends it again."""

    def send() -> None:
        try:
            # By name, as the task module imports this one (tasks call services, not back).
            celery_app.send_task(PROVISION_TASK, args=[signup_id], retry=False)
        except Exception:
            logger.warning("could not enqueue provisioning of signup %s", signup_id)

    transaction.on_commit(send)


def signup_requeue_stalled(*, signup: SignupRequest, now: datetime) -> bool:
    """Send a queued signup to the workers again when none has started it for a while."""
    stalled = SignupRequest.objects.filter(
        pk=signup.pk,
        status=SignupRequest.Status.QUEUED,
        queued_at__lt=now - SIGNUP_REQUEUE_AFTER,
    ).update(queued_at=now)
    if stalled:
        _signup_enqueue(signup.pk)
    return bool(stalled)


def signup_provision(*, signup_id: int) -> SignupRequest:
    """Create the organization of a confirmed signup (in a worker). Idempotent: a repeated
    message for a signup that is ready, failed or being provisioned changes nothing."""
    with transaction.atomic():
        signup = SignupRequest.objects.select_for_update().get(pk=signup_id)
        # A worker that died mid-way rolled its transaction back: after a while, start again.
        abandoned = (
            signup.status == SignupRequest.Status.PROVISIONING
            and signup.started_at is not None
            and signup.started_at < timezone.now() - SIGNUP_ABANDONED_AFTER
        )
        if signup.status != SignupRequest.Status.QUEUED and not abandoned:
            return signup
        signup.status = SignupRequest.Status.PROVISIONING
        signup.started_at = timezone.now()
        signup.save(update_fields=["status", "started_at"])
    try:
        organization = organization_create(
            name=signup.name,
            subdomain=signup.subdomain,
            admin_name=signup.admin_name,
            admin_email=signup.admin_email,
            admin_password_hash=signup.admin_password_hash,
        )
    except OrganizationError as exc:  # e.g. the subdomain was taken since the request
        signup.status, signup.failure = SignupRequest.Status.FAILED, exc.message
    except Exception as exc:
        logger.exception("provisioning of signup %s failed", signup_id)
        signup.status = SignupRequest.Status.FAILED
        signup.failure = (
            f"Something went wrong on our side ({type(exc).__name__}); please sign up again."
        )
    else:
        signup.status, signup.organization = SignupRequest.Status.READY, organization
    signup.finished_at = timezone.now()
    signup.admin_password_hash = ""  # the admin has it now; the request need not keep it
    signup.save(
        update_fields=["status", "failure", "organization", "finished_at", "admin_password_hash"]
    )
    return signup


def signup_typical_seconds() -> float:
    """How long provisioning took on average over the last finished signups (seconds)."""
    recent = SignupRequest.objects.filter(
        status=SignupRequest.Status.READY, started_at__isnull=False
    ).order_by("-finished_at")[:20]
    average = SignupRequest.objects.filter(pk__in=recent.values("pk")).aggregate(
        took=Avg(F("finished_at") - F("started_at"))
    )["took"]
    return average.total_seconds() if average else SIGNUP_TYPICAL_SECONDS
