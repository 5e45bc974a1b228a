from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.accounts.roles import Role


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True, role=Role.ADMIN)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person of one organization (users live in the tenant's schema), signing in by email."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150)
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.REP)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)  # Django admin access, operators only
    date_joined = models.DateTimeField(default=timezone.now)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    objects = UserManager()

    class Meta:
        ordering = ["name", "email"]

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email

    def has_role(self, *roles: str) -> bool:
        return self.is_active and self.role in roles


class Invitation(models.Model):
    """An invitation to join the organization with a role; the emailed link sets a password."""

    email = models.EmailField()
    role = models.CharField(max_length=32, choices=Role.choices)
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="invitation")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation for {self.email}"

    def is_open(self, now=None) -> bool:
        return self.accepted_at is None and (now or timezone.now()) < self.expires_at


class Scope(models.TextChoices):
    """What a token may do, on top of what its role allows (a scope never widens a role)."""

    READ = "read", "Read"  # GET requests
    WRITE = "write", "Write"  # changes to data: leads, activities, dispositions, drafts
    SIGN = "sign", "Sign the SLA"  # signing; fresh for SIGNING_PROOF_MAX_AGE_MINUTES
    ADMIN = "admin", "Administer"  # people and API keys


class ApiKey(models.Model):
    """A bearer token, stored as a SHA-256 hash: a user's personal token or an organization key.

    Personal tokens act as their user (with the user's role); organization keys
    (user is null) act as the integration pseudo-role for pushing CRM data. Either
    carries scopes and may expire.
    """

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal token"
        ORGANIZATION = "organization", "Organization API key"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="empty: never")
    scopes = ArrayField(
        models.CharField(max_length=16, choices=Scope.choices), default=list, blank=True
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="personal", user__isnull=False))
                | models.Q(kind="organization", user__isnull=True),
                name="apikey_kind_matches_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired()

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or ())


class AuditEvent(models.Model):
    """Who did what to people and keys: invitations, role changes, deactivations, key use.

    Append-only: PostgreSQL refuses UPDATE, DELETE and TRUNCATE (so an actor with
    events cannot be deleted either: deactivate people instead).
    """

    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["-occurred_at"], name="audit_occurred_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"


class TwoFactorDevice(models.Model):
    """A person's authenticator app (TOTP, RFC 6238): the shared secret and the last code used.

    Unconfirmed until the person enters a first code; ``last_step`` refuses a code that
    was already used (a code read over someone's shoulder cannot be replayed).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="two_factor")
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"authenticator of {self.user}"


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator app is lost; stored as a SHA-256 hash."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="recoverycode_unique"),
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user}"
