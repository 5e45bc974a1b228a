"""The Celery application: tenant-aware, so a task runs in the schema it was sent from."""

import os

from celery.signals import worker_process_init
from tenant_schemas_celery.app import CeleryApp

from config.heap import collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("handoff")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _collector_tune(**_kwargs) -> None:
    """Each worker process, once the app is loaded: the collector leaves it alone (config/heap.py)."""
    collector_tune()
