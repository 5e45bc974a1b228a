"""Every page of an organization shows and reads times in the organization's zone.

Django renders aware datetimes and parses what forms receive in the *current* time
zone, which is UTC unless someone activates another one. An SLA draft whose effective
time was shown in New York time and read back as UTC moved five hours at each save.
Activating the organization's zone once per request makes every template filter,
every form field and every ``timezone.localtime`` agree, on every page.

The API keeps UTC: its clients send and receive ISO instants with their offsets.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apps.sla.selectors import organization_timezone

# Paths that never render a page for a person (machines and files).
_UNZONED_PREFIXES = ("/api/", "/static/", "/favicon")


class OrganizationTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if connection.schema_name == settings.PUBLIC_SCHEMA_NAME or request.path.startswith(
            _UNZONED_PREFIXES
        ):
            return self.get_response(request)
        zone = organization_timezone()
        request.organization_timezone = zone
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
