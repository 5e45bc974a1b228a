from django.apps import AppConfig


class IcpConfig(AppConfig):
    name = "apps.icp"
    verbose_name = "ICP"
