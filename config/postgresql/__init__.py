"""Django's PostgreSQL backend with one change for Citus (see base.py); django-tenants wraps it
(ORIGINAL_BACKEND in config/settings.py)."""
