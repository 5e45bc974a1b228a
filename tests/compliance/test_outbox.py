"""Delivery of the outbox: the signed webhook against a local receiver, retries, email retries."""

import hashlib
import hmac
import json
from datetime import timedelta
from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from apps.compliance import outbox
from apps.compliance.models import AlertDelivery, AlertSettings, EmailDigest, WebhookAttempt
from tests.compliance.conftest import MONDAY, SECRET
from tests.compliance.receiver import Receiver, closed_port


@pytest.fixture(autouse=True)
def local_receivers_allowed(settings):
    # The receivers of these tests listen on 127.0.0.1, which the destination rules
    # refuse by default (tests/compliance/test_destinations.py covers that side).
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = True


def test_webhook_is_signed_slack_compatible_and_retried_with_backoff(breach, settings):
    settings.COMPLIANCE_RETRY_BASE_SECONDS = 30
    with Receiver([500, 503, 200]) as receiver:
        delivery = breach(receiver.url)
        t0 = MONDAY + timedelta(hours=5)

        assert outbox.webhook_deliver(now=t0) == 0
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert delivery.next_attempt_at == t0 + timedelta(seconds=30)

        assert outbox.webhook_deliver(now=t0 + timedelta(seconds=29)) == 0
        assert len(receiver.requests) == 1  # not due yet
        outbox.webhook_deliver(now=t0 + timedelta(seconds=30))
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == t0 + timedelta(seconds=90)  # doubled
        assert outbox.webhook_deliver(now=t0 + timedelta(seconds=90)) == 1
        assert outbox.webhook_deliver(now=t0 + timedelta(hours=9)) == 0  # nothing owed

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(receiver.requests) == 3
    bodies = {r["body"] for r in receiver.requests}
    assert len(bodies) == 1  # the same bytes every time, so the same signature
    body = bodies.pop()
    for request in receiver.requests:
        headers = request["headers"]
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Handoff-Signature"] == f"sha256={expected}"
        assert headers["X-Handoff-Delivery"] == str(delivery.key)
        assert headers["X-Handoff-Event"] == "breach"
        assert headers["Content-Type"].startswith("application/json")
    payload = json.loads(body)
    assert payload["text"].startswith("SLA breached: first contact for Jane Doe (Initech)")
    assert payload["blocks"][0]["type"] == "section"
    assert "Open in Handoff" in payload["blocks"][1]["elements"][0]["text"]
    log = list(
        WebhookAttempt.objects.order_by("attempted_at").values_list("status_code", "succeeded")
    )
    assert log == [(500, False), (503, False), (200, True)]


def test_webhook_gives_up_after_the_maximum_attempts(breach, settings):
    settings.COMPLIANCE_DELIVERY_MAX_ATTEMPTS = 2
    # Nothing listens there: a refused connection is a failed attempt, logged with its reason.
    delivery = breach(f"http://127.0.0.1:{closed_port()}/hook")
    t0 = MONDAY + timedelta(hours=5)
    outbox.webhook_deliver(now=t0)
    outbox.webhook_deliver(now=t0 + timedelta(hours=1))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert WebhookAttempt.objects.filter(status_code__isnull=True).count() == 2
    assert "Connection refused" in delivery.last_error or "Errno" in delivery.last_error


def test_a_webhook_turned_off_skips_what_was_owed(breach):
    delivery = breach(f"http://127.0.0.1:{closed_port()}/hook")
    AlertSettings.objects.filter(pk=1).update(webhook_enabled=False)

    outbox.webhook_deliver(now=MONDAY + timedelta(hours=5))

    delivery.refresh_from_db()
    assert delivery.status == "skipped"
    assert not WebhookAttempt.objects.exists()


class FailingBackend(EmailBackend):
    def send_messages(self, messages):
        raise SMTPException("relay down")


def test_a_failed_digest_is_retried_as_the_same_message(breach, settings):
    breach(f"http://127.0.0.1:{closed_port()}/hook", kinds=())
    t0 = MONDAY + timedelta(hours=5)
    settings.EMAIL_BACKEND = "tests.compliance.test_outbox.FailingBackend"

    assert outbox.email_deliver(now=t0) == 0
    digests = list(EmailDigest.objects.all())
    assert len(digests) == 2 and all(d.sent_at is None and d.attempts == 1 for d in digests)
    owed = AlertDelivery.objects.filter(channel="email")
    assert set(owed.values_list("status", flat=True)) == {"pending"}
    assert "relay down" in owed.first().last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.email_deliver(now=t0 + timedelta(seconds=10)) == 0  # backoff: not yet
    assert outbox.email_deliver(now=t0 + timedelta(seconds=30)) == 2
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == {
        f"<digest-{d.key}@handoff>" for d in digests
    }
    assert set(owed.values_list("status", flat=True)) == {"delivered"}
