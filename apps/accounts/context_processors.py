"""Template context shared by every tenant page: the navigation the user's role may use."""

from functools import cache
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.db import connection

from apps.accounts.access import user_may_open


@cache
def _nav_items() -> tuple:
    items = []
    for config in apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        try:
            module = import_module(f"{config.name}.navigation")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.navigation":
                raise
            continue
        items.extend(module.NAV_ITEMS)
    return tuple(sorted(items, key=lambda item: item.order))


def navigation(request) -> dict:
    if connection.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return {}
    user = request.user
    if not user.is_authenticated:
        return {"nav_main": [], "nav_settings": []}
    visible = [item for item in _nav_items() if user_may_open(user, item.url_name)]
    return {
        "nav_main": [item for item in visible if item.section == "main"],
        "nav_settings": [item for item in visible if item.section == "settings"],
        "organization": getattr(request, "tenant", None),
    }
