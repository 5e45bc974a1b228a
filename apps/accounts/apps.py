from importlib import import_module

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Both modules read models (the schema through DRF's views and our authentication,
        # the lockout receiver through the services), so they are loaded once the registry
        # is ready, by name, like Django's own autodiscovery:
        # - the OpenAPI description of our token authentication and error answers;
        # - the lockout e-mail, connected to django-axes' lockout signal.
        import_module("apps.accounts.schema")
        import_module("apps.accounts.lockout")
