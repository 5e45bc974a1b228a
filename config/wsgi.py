"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from config.heap import collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# The loaded app lives as long as the worker: the collector leaves it alone (config/heap.py).
collector_tune()
