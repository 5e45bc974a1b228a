from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from apps.tenants.database_roles import owner_connection


class Organization(TenantMixin):
    """One customer company: its own PostgreSQL schema, reached on its own subdomain."""

    name = models.CharField(max_length=120)
    subdomain = models.SlugField(max_length=40, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Leaders and admins must sign in with a one-time code too (apps/accounts/two_factor.py).
    two_factor_required = models.BooleanField(default=False)

    # Schemas are created by organization_create, inside its transaction.
    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # Schemas are DDL: created (and migrated) and dropped as the owner role, whatever
    # path gets here (apps/tenants/database_roles.py).
    def create_schema(self, *args, **kwargs):
        with owner_connection():
            return super().create_schema(*args, **kwargs)

    def _drop_schema(self, force_drop=False):
        with owner_connection():
            return super()._drop_schema(force_drop)


class Domain(DomainMixin):
    """A host name that routes to an organization (acme.localhost, acme.handoff.app)."""

    def __str__(self) -> str:
        return self.domain


class SignupRequest(models.Model):
    """A request for a new organization from the public signup form.

    It waits for its admin to confirm the e-mail address, then a worker provisions the
    organization (schema, migrations, first admin, defaults) while the browser shows the
    progress; the web process never runs the slow part. The password is kept hashed only.
    """

    class Status(models.TextChoices):
        AWAITING_EMAIL = "awaiting_email", "Waiting for the e-mail confirmation"
        QUEUED = "queued", "Waiting for a worker"
        PROVISIONING = "provisioning", "Setting up"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(unique=True, editable=False)
    name = models.CharField(max_length=120)
    subdomain = models.SlugField(max_length=40)
    admin_name = models.CharField(max_length=150)
    admin_email = models.EmailField()
    admin_password_hash = models.CharField(max_length=256)
    token_hash = models.CharField(max_length=64, unique=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AWAITING_EMAIL)
    failure = models.TextField(blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "queued_at"], name="signup_status_idx")]

    def __str__(self) -> str:
        return f"signup {self.subdomain} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.READY, self.Status.FAILED}
