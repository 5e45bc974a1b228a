from django.apps import AppConfig


class DispositionsConfig(AppConfig):
    name = "apps.dispositions"
    verbose_name = "Dispositions"
