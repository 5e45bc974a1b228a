"""Tunables of the compliance engine: a Django setting of the same name wins, else the
environment variable, else the default. Read at call time, so tests and operators can
change them without a restart of the code that imports this module.

    COMPLIANCE_DUE_SOON_SHARE            0.25  warn when this share of a clock's window is
                                               left (organizations override it on the
                                               alert settings page)
    COMPLIANCE_BREACH_ALERT_MAX_AGE_HOURS  24  clocks found breached longer ago than this
                                               (back-filled history) are marked, not alerted
    COMPLIANCE_EMAIL_DIGEST_SECONDS        60  at most one alert email per person this often
    COMPLIANCE_RETRY_BASE_SECONDS          30  first retry delay of email/webhook; doubles
    COMPLIANCE_RETRY_MAX_SECONDS         3600  cap of the retry delay
    COMPLIANCE_DELIVERY_MAX_ATTEMPTS        8  then the delivery is marked failed
    COMPLIANCE_WEBHOOK_TIMEOUT_SECONDS      5  per POST
    COMPLIANCE_ESCALATION_LOOKBACK          2  closed periods in which a newly fired
                                               escalation is still sent (a sweep outage)
    COMPLIANCE_SWEEP_RUNS_KEPT_DAYS         7  SweepRun rows kept (one per tenant a minute)
    COMPLIANCE_WEBHOOK_ALLOW_PRIVATE        0  1/true: the organization webhook may point at
                                               private, loopback and link-local addresses
                                               (self-hosted installs, the tests' local
                                               receiver); read with ``flag()``
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, float] = {
    "COMPLIANCE_DUE_SOON_SHARE": 0.25,
    "COMPLIANCE_BREACH_ALERT_MAX_AGE_HOURS": 24,
    "COMPLIANCE_EMAIL_DIGEST_SECONDS": 60,
    "COMPLIANCE_RETRY_BASE_SECONDS": 30,
    "COMPLIANCE_RETRY_MAX_SECONDS": 3600,
    "COMPLIANCE_DELIVERY_MAX_ATTEMPTS": 8,
    "COMPLIANCE_WEBHOOK_TIMEOUT_SECONDS": 5,
    "COMPLIANCE_ESCALATION_LOOKBACK": 2,
    "COMPLIANCE_SWEEP_RUNS_KEPT_DAYS": 7,
    "COMPLIANCE_WEBHOOK_ALLOW_PRIVATE": 0,
}

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def value(name: str) -> float:
    """The tunable ``name`` (one of DEFAULTS) as a number."""
    configured = getattr(settings, name, None)
    if configured is None:
        configured = os.environ.get(name) or None
    return float(configured) if configured is not None else DEFAULTS[name]


def flag(name: str) -> bool:
    """The on/off tunable ``name`` (one of DEFAULTS): a bool or number setting, or an
    environment variable 1/0, true/false, yes/no, on/off (anything else is an error)."""
    configured = getattr(settings, name, None)
    if configured is None:
        configured = os.environ.get(name) or None
    if configured is None:
        return bool(DEFAULTS[name])
    if isinstance(configured, bool | int | float):
        return bool(configured)
    word = str(configured).strip().lower()
    if word in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {word!r}.")


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after ``attempts`` failed attempts: base, 2 x base, 4 x base, ... capped."""
    base = value("COMPLIANCE_RETRY_BASE_SECONDS")
    cap = value("COMPLIANCE_RETRY_MAX_SECONDS")
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))
