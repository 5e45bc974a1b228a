"""The lead detail page's extension point: every app may add a panel below the timeline.

Each app that has something to say about one lead exposes, in its `panels.py`,
`lead_panel(*, lead, user) -> dict | None` returning
{"title": str, "template": "<app>/_lead_panel.html", "context": dict, "order": int}
(None = nothing to show for this lead or this user). Discovered the same way as
provisioning steps (apps.accounts.provisioning): by module name, in INSTALLED_APPS order.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import import_module
from typing import Any

from django.apps import apps

LeadPanel = Callable[..., dict[str, Any] | None]


@cache
def lead_panel_providers() -> tuple[LeadPanel, ...]:
    """Every installed app's `panels.lead_panel`, in app order (found once per process)."""
    found = []
    for config in apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        try:
            module = import_module(f"{config.name}.panels")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.panels":
                raise
            continue
        provider = getattr(module, "lead_panel", None)
        if callable(provider):
            found.append(provider)
    return tuple(found)


def lead_panels(*, lead, user) -> list[dict[str, Any]]:
    """The panels to show for a lead to a user, ordered by their `order` (then app order)."""
    panels = []
    for provider in lead_panel_providers():
        panel = provider(lead=lead, user=user)
        if panel:
            panels.append(
                {
                    "title": panel.get("title", ""),
                    "template": panel["template"],
                    "context": dict(panel.get("context") or {}),
                    "order": panel.get("order", 100),
                }
            )
    return sorted(panels, key=lambda panel: panel["order"])
