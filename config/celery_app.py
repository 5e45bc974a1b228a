"""The Celery application: tenant-aware, so a task runs in the schema it was sent from."""

import os

from celery.signals import worker_process_init
from tenant_schemas_celery.app import CeleryApp

from config.heap import heap_freeze

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("handoff")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_loaded_heap(**_kwargs) -> None:
    """Each worker process, once the app is loaded: later collections need not walk it."""
    heap_freeze()
