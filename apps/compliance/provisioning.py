"""A new organization starts with its alert settings row (due-soon share default, webhook off)."""

from apps.compliance.services import alert_settings_ensure


def provision() -> None:
    alert_settings_ensure()
