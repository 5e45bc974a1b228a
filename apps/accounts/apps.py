from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the OpenAPI description of our token authentication.
        # Connects the lockout e-mail to django-axes' lockout signal.
        from apps.accounts import (
            lockout,  # noqa: F401
            schema,  # noqa: F401
        )
