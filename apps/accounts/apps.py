from django.apps import AppConfig

# Registers the OpenAPI description of our token authentication (it reads no models).
from apps.accounts import schema  # noqa: F401


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    verbose_name = "Accounts"
