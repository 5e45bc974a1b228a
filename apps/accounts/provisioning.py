"""The per-app steps that give a new organization its defaults.

Each app that needs defaults exposes `provision()` in its `provisioning.py`;
they run in the order of INSTALLED_APPS inside the new tenant's schema.
"""

from collections.abc import Callable
from importlib import import_module

from django.apps import apps


def provisioners() -> list[Callable[[], None]]:
    found = []
    for config in apps.get_app_configs():
        if not config.name.startswith("apps.") or config.name == "apps.accounts":
            continue
        try:
            module = import_module(f"{config.name}.provisioning")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.provisioning":
                raise
            continue
        found.append(module.provision)
    return found
