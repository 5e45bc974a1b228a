from django.apps import AppConfig


class HandoffConfig(AppConfig):
    """The hand-off layer: every channel's facts, then qualify → stage → route → clocks.

    No models of its own: it sits above the leads, MQL, SLA, dispositions and compliance
    services and below the views, API, tasks and demo seeds (see pipeline.py).
    """

    name = "apps.handoff"
    verbose_name = "Hand-off"
