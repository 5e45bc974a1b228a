"""API rate limits: per token (or signed-in user), per organization, per client address.

Counters live in the shared cache (Redis), one fixed window per limit, incremented
atomically, so every gunicorn process and machine counts together. Beyond a limit DRF
answers 429 with `Retry-After` (seconds until the window turns). Rates come from
settings at request time ("600/minute"), so they can be tuned without a code change.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from apps.accounts.models import ApiKey

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """("600/minute") -> (600, 60): the number of requests and the window in seconds."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[0].lower()]


def window_hit(key: str, rate: str, *, now: float | None = None) -> tuple[bool, int]:
    """Count one hit of `key` in the current window; (allowed, seconds until the window turns)."""
    limit, duration = rate_parse(rate)
    now = time.time() if now is None else now
    window = int(now // duration)
    full_key = f"rate:{key}:{duration}:{window}"
    if cache.add(full_key, 1, timeout=duration + 1):
        count = 1
    else:
        try:
            count = cache.incr(full_key)
        except ValueError:  # expired between add and incr: a new window
            cache.add(full_key, 1, timeout=duration + 1)
            count = 1
    wait = max(1, int(duration - (now % duration)) + 1)
    return count <= limit, wait


def window_count(key: str, rate: str, *, now: float | None = None) -> tuple[int, int]:
    """How many hits `key` has in the current window, and the seconds until it turns."""
    _limit, duration = rate_parse(rate)
    now = time.time() if now is None else now
    count = cache.get(f"rate:{key}:{duration}:{int(now // duration)}", 0)
    return count, max(1, int(duration - (now % duration)) + 1)


class _WindowThrottle(BaseThrottle):
    """A fixed-window limit whose rate is the setting named by `setting`."""

    setting = ""
    scope = ""

    def __init__(self) -> None:
        self._wait = 0

    def key(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        key = self.key(request)
        if key is None:
            return True
        allowed, self._wait = window_hit(
            f"{self.scope}:{connection.schema_name}:{key}", getattr(settings, self.setting)
        )
        return allowed

    def wait(self) -> int:
        return self._wait


class TokenRateThrottle(_WindowThrottle):
    """API_RATE_PER_TOKEN for each personal token or organization key (and each browser user)."""

    setting = "API_RATE_PER_TOKEN"
    scope = "token"

    def key(self, request) -> str | None:
        if isinstance(request.auth, ApiKey):
            return f"key{request.auth.pk}"
        user = request.user
        if user is not None and user.is_authenticated and user.pk is not None:
            return f"user{user.pk}"
        return None


class OrganizationRateThrottle(_WindowThrottle):
    """API_RATE_PER_ORGANIZATION for all authenticated calls of one organization together."""

    setting = "API_RATE_PER_ORGANIZATION"
    scope = "org"

    def key(self, request) -> str | None:
        user = request.user
        return "all" if user is not None and user.is_authenticated else None


class AnonymousRateThrottle(_WindowThrottle):
    """API_RATE_ANONYMOUS per client address for calls without a token (webhooks, probes)."""

    setting = "API_RATE_ANONYMOUS"
    scope = "anon"

    def key(self, request) -> str | None:
        user = request.user
        return None if user is not None and user.is_authenticated else self.get_ident(request)


def failed_token_check(request) -> None:
    """Throttled (429) once a client address has sent API_RATE_FAILED_TOKENS bad tokens in
    the window: guessing tokens costs a window's wait per handful of tries."""
    count, wait = window_count(_failed_key(request), settings.API_RATE_FAILED_TOKENS)
    if count >= rate_parse(settings.API_RATE_FAILED_TOKENS)[0]:
        raise Throttled(wait=wait, detail="Too many invalid tokens from this address.")


def failed_token_record(request) -> None:
    """Count one invalid token from the request's client address."""
    window_hit(_failed_key(request), settings.API_RATE_FAILED_TOKENS)


def _failed_key(request) -> str:
    return f"badtoken:{connection.schema_name}:{client_address(request)}"


def client_address(request) -> str:
    """The client's address as the API throttles see it (REMOTE_ADDR, or X-Forwarded-For
    behind REST_FRAMEWORK's NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)
