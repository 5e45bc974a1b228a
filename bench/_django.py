"""Django set-up shared by the benchmark scripts (run from the repo root by bench/run)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Measured as in production: no debug cursor recording every statement (the gunicorn
# children of measure.py get the same).
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" * 10)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "*")
# Production settings require signing keys (README, Sign-off); the bench organization's SLA
# is signed with this one.
os.environ.setdefault("SLA_SIGNING_KEYS", "bench:" + "bench-signing-key-" * 3)

import django

django.setup()

# As the gunicorn and Celery workers do once the app is loaded (config/heap.py).
from config.heap import collector_tune

collector_tune()
