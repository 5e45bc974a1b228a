"""DRF authentication by bearer token (personal token or organization API key)."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiKey
from apps.accounts.roles import INTEGRATION
from apps.accounts.throttles import failed_token_check, failed_token_record
from apps.accounts.tokens import token_matches, token_prefix

# Recording every use would turn each API read into a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class IntegrationPrincipal:
    """The caller behind an organization API key: authenticated, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    role = INTEGRATION
    pk = None
    id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.name = f"API key “{api_key.name}”"
        self.email = ""

    def __str__(self) -> str:
        return self.name


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer hk_…` (or `Token hk_…`), looked up in the current tenant's schema only."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = header[1]
        failed_token_check(request)
        prefix = token_prefix(token)
        key = (
            ApiKey.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
        )
        if key is None or not token_matches(token, key.key_hash):
            failed_token_record(request)
            raise exceptions.AuthenticationFailed("Invalid token.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        now = timezone.now()
        if key.is_expired(now):
            raise exceptions.AuthenticationFailed(
                f"This token expired on {key.expires_at:%Y-%m-%d %H:%M} UTC: create a new one."
            )
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        if key.kind == ApiKey.Kind.PERSONAL:
            if not key.user.is_active:
                raise exceptions.AuthenticationFailed("This user is deactivated.")
            return key.user, key
        return IntegrationPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
