"""System checks: the sign-off signing keys must be usable (manage.py check; every start)."""

from django.conf import settings
from django.core import checks

from apps.sla import sealing


@checks.register(checks.Tags.security)
def signing_keys_check(app_configs, **kwargs):
    try:
        sealing.parse_keys(settings.SLA_SIGNING_KEYS)
    except sealing.SigningKeyError as error:
        return [
            checks.Error(
                f"SLA_SIGNING_KEYS cannot be used: {error}",
                hint="Set SLA_SIGNING_KEYS=<key id>:<32+ random characters>[,<older id>:<secret>…].",
                id="sla.E001",
            )
        ]
    return []
