"""Delivery of the alert outbox: in-app notifications, email digests, the organization webhook.

What is guaranteed, channel by channel (every claim takes rows with
``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent workers never deliver a row twice,
and a worker that dies releases its locks with its connection):

* in-app: exactly once. The Notification insert (unique per alert and person, ON
  CONFLICT DO NOTHING) and the "delivered" mark commit in one transaction.
* email: at least once, at most one digest per person per COMPLIANCE_EMAIL_DIGEST_SECONDS.
  A digest's content is fixed first (deliveries point to an EmailDigest row, committed),
  then sent while its row is locked, and marked sent in that transaction. Only a crash
  between the mail server accepting the message and our commit re-sends it, as the same
  message with the same Message-ID (``<digest-{key}@handoff>``), which receivers dedupe.
* webhook: at least once, same reasoning: the POST happens inside the transaction that
  marks the delivery; a repeat carries the same body, signature and X-Handoff-Delivery
  key. Failures retry with exponential backoff and are logged for admins. Before each
  POST the URL is checked again (``destinations``: public addresses only, unless
  COMPLIANCE_WEBHOOK_ALLOW_PRIVATE) and the connection goes to the addresses checked; a
  refused destination fails the delivery at once (logged with the reason), a host name
  that does not resolve is an ordinary failed attempt.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.compliance import alert_text, config, destinations, selectors
from apps.compliance.models import (
    Alert,
    AlertDelivery,
    Channel,
    DeliveryStatus,
    EmailDigest,
    Notification,
    WebhookAttempt,
)
from apps.tenants.addresses import organization_url
from apps.tenants.models import Organization

logger = logging.getLogger(__name__)

BATCH = 500
DIGEST_MAX_ALERTS = 100
WEBHOOKS_PER_RUN = 200


def deliveries_deliver(*, now: datetime | None = None) -> dict[str, int]:
    """Deliver every delivery owed at ``now`` on every channel; returns how many per channel."""
    now = now or timezone.now()
    return {
        Channel.IN_APP: in_app_deliver(now=now),
        Channel.EMAIL: email_deliver(now=now),
        Channel.WEBHOOK: webhook_deliver(now=now),
    }


def next_owed_at() -> datetime | None:
    """When the earliest pending delivery falls due (for the task to come back then)."""
    return (
        AlertDelivery.objects.filter(status=DeliveryStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


# --- links -----------------------------------------------------------------------------


def alert_path(alert: Alert) -> str:
    """Where the alert leads in the app: the lead, or the commitment's compliance period."""
    try:
        if alert.lead_id:
            return reverse("leads:lead_detail", kwargs={"pk": alert.lead_id})
        if alert.commitment_id and alert.period_start:
            return (
                reverse("compliance:overview")
                + f"?period={alert.period_kind}&start={alert.period_start.isoformat()}"
            )
    except NoReverseMatch:
        pass
    return reverse("compliance:notification_list")


def _absolute(path: str) -> str:
    organization = Organization.objects.filter(schema_name=connection.schema_name).first()
    return organization_url(organization, path) if organization else path


# --- in-app ------------------------------------------------------------------------------


def in_app_deliver(*, now: datetime) -> int:
    """Notifications for owed in-app deliveries, in batches; exactly once (see module doc)."""
    delivered = 0
    while True:
        with transaction.atomic():
            claimed = list(
                AlertDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("alert")
                .filter(
                    channel=Channel.IN_APP,
                    status=DeliveryStatus.PENDING,
                    next_attempt_at__lte=now,
                )
                .order_by("id")[:BATCH]
            )
            if not claimed:
                return delivered
            notifications = []
            for delivery in claimed:
                alert = delivery.alert
                message = alert_text.alert_message(alert.kind, alert.payload)
                notifications.append(
                    Notification(
                        recipient_id=delivery.recipient_id,
                        alert=alert,
                        kind=alert.kind,
                        title=message.title[:300],
                        body=message.body,
                        url=alert_path(alert),
                        created_at=alert.created_at,
                    )
                )
            Notification.objects.bulk_create(notifications, ignore_conflicts=True)
            AlertDelivery.objects.filter(pk__in=[d.pk for d in claimed]).update(
                status=DeliveryStatus.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
            )
            delivered += len(claimed)
        if len(claimed) < BATCH:
            return delivered


# --- email digests ---------------------------------------------------------------------------


def email_deliver(*, now: datetime) -> int:
    """One digest per person with owed email alerts (rate-limited); returns alerts sent."""
    recipients = list(
        AlertDelivery.objects.filter(
            channel=Channel.EMAIL, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .order_by()
        .values_list("recipient_id", flat=True)
        .distinct()[:BATCH]
    )
    sent = 0
    for recipient_id in recipients:
        digest_id = digest_compose(recipient_id=recipient_id, now=now)
        if digest_id is not None:
            sent += digest_send(digest_id=digest_id, now=now)
    return sent


def _lock_recipient(recipient_id: int) -> None:
    # Serializes digest composition per person (and schema): the rate limit and the
    # "one unsent digest" rule are then decided on a stable view.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"compliance-digest:{connection.schema_name}:{recipient_id}"],
        )


@transaction.atomic
def digest_compose(*, recipient_id: int, now: datetime) -> int | None:
    """The digest to send to this person now: an unsent one (a retry, same content), or a new
    one holding every owed email alert; None when rate-limited or nothing is owed."""
    _lock_recipient(recipient_id)
    unsent = EmailDigest.objects.filter(recipient_id=recipient_id, sent_at__isnull=True).first()
    if unsent is not None:
        # A digest that failed before is retried as it was, once its backoff is over.
        due = unsent.deliveries.filter(next_attempt_at__lte=now).exists()
        return unsent.pk if due else None
    interval = config.value("COMPLIANCE_EMAIL_DIGEST_SECONDS")
    last_sent = (
        EmailDigest.objects.filter(recipient_id=recipient_id, sent_at__isnull=False)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    owed = AlertDelivery.objects.filter(
        recipient_id=recipient_id,
        channel=Channel.EMAIL,
        status=DeliveryStatus.PENDING,
        digest__isnull=True,
        next_attempt_at__lte=now,
    )
    if last_sent is not None:
        allowed_at = last_sent + timedelta(seconds=interval)
        if now < allowed_at:
            owed.update(next_attempt_at=allowed_at)
            return None
    ids = list(owed.order_by("id").values_list("pk", flat=True)[:DIGEST_MAX_ALERTS])
    if not ids:
        return None
    try:
        with transaction.atomic():
            digest = EmailDigest.objects.create(recipient_id=recipient_id, created_at=now)
    except IntegrityError:  # pragma: no cover - the advisory lock makes this a last guard
        return None
    AlertDelivery.objects.filter(pk__in=ids).update(digest=digest)
    return digest.pk


def digest_send(*, digest_id: int, now: datetime) -> int:
    """Send one composed digest and mark it and its deliveries; returns the alerts it carried."""
    with transaction.atomic():
        digest = (
            EmailDigest.objects.select_for_update(skip_locked=True)
            .select_related("recipient")
            .filter(pk=digest_id, sent_at__isnull=True)
            .first()
        )
        if digest is None:  # sent meanwhile, or another worker holds it right now
            return 0
        deliveries = list(
            digest.deliveries.select_related("alert").order_by("alert__created_at", "alert_id")
        )
        if not deliveries:
            digest.delete()
            return 0
        try:
            _digest_message(digest, [d.alert for d in deliveries]).send()
        except Exception as error:  # any transport failure: retry later with backoff
            _digest_failed(digest, deliveries, error, now=now)
            return 0
        digest.sent_at = now
        digest.attempts += 1
        digest.save(update_fields=["sent_at", "attempts"])
        AlertDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
            status=DeliveryStatus.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
        )
        return len(deliveries)


def _digest_failed(digest: EmailDigest, deliveries, error: Exception, *, now: datetime) -> None:
    digest.attempts += 1
    digest.last_error = f"{type(error).__name__}: {error}"[:2000]
    ids = [d.pk for d in deliveries]
    if digest.attempts >= config.value("COMPLIANCE_DELIVERY_MAX_ATTEMPTS"):
        logger.error("giving up on alert digest %s: %s", digest.key, digest.last_error)
        AlertDelivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.FAILED,
            last_error=digest.last_error,
            digest=None,
            attempts=F("attempts") + 1,
        )
        digest.delete()  # frees the person's "one unsent digest" slot
        return
    logger.warning("alert digest %s failed, will retry: %s", digest.key, digest.last_error)
    digest.save(update_fields=["attempts", "last_error"])
    AlertDelivery.objects.filter(pk__in=ids).update(
        next_attempt_at=now + config.retry_delay(digest.attempts),
        last_error=digest.last_error,
        attempts=F("attempts") + 1,
    )


def _digest_message(digest: EmailDigest, alerts: list[Alert]) -> EmailMessage:
    items = []
    for alert in alerts:
        message = alert_text.alert_message(alert.kind, alert.payload)
        items.append(
            {
                "kind": alert_text.KIND_LABELS.get(alert.kind, alert.kind),
                "title": message.title,
                "body": message.body,
                "url": _absolute(alert_path(alert)),
            }
        )
    organization = getattr(connection, "tenant", None)
    context = {
        "recipient": digest.recipient,
        "items": items,
        "organization": getattr(organization, "name", "") or "",
        "settings_url": _absolute(reverse("compliance:preferences")),
    }
    subject = render_to_string("compliance/email/digest_subject.txt", context).strip()
    body = render_to_string("compliance/email/digest.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[digest.recipient.email],
        headers={
            "Message-ID": f"<digest-{digest.key}@handoff>",
            "X-Handoff-Digest": str(digest.key),
        },
    )


# --- the organization webhook ------------------------------------------------------------------


def webhook_deliver(*, now: datetime) -> int:
    """POST owed webhook deliveries one by one (each in its own transaction); returns successes."""
    succeeded = 0
    for _ in range(WEBHOOKS_PER_RUN):
        with transaction.atomic():
            delivery = (
                AlertDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("alert")
                .filter(
                    channel=Channel.WEBHOOK,
                    status=DeliveryStatus.PENDING,
                    next_attempt_at__lte=now,
                )
                .order_by("id")
                .first()
            )
            if delivery is None:
                return succeeded
            outcome = _webhook_post(delivery, now=now)
        if outcome is False:
            # The receiver is failing: the rest waits for the next run instead of
            # each spending a timeout now.
            return succeeded
        succeeded += bool(outcome)
    return succeeded


def webhook_request(delivery: AlertDelivery, *, url: str, secret: str) -> urllib.request.Request:
    """The signed request for a delivery: same body, signature and key on every attempt."""
    alert = delivery.alert
    message = alert_text.alert_message(alert.kind, alert.payload)
    body = alert_text.slack_body(alert.kind, message, _absolute(alert_path(alert)))
    return urllib.request.Request(  # noqa: S310 - opened only through destinations.pinned_opener
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Handoff-Webhooks/1.0",
            "X-Handoff-Signature": alert_text.signature(secret, body),
            "X-Handoff-Delivery": str(delivery.key),
            "X-Handoff-Event": alert.kind,
        },
    )


def _webhook_post(delivery: AlertDelivery, *, now: datetime) -> bool | None:
    """One attempt: True delivered, False the receiver failed, None nothing was sent
    (the webhook is off, or the destination is refused): not the receiver's failure."""
    settings_row = selectors.alert_settings()
    if not settings_row.webhook_is_on:
        delivery.status = DeliveryStatus.SKIPPED
        delivery.last_error = "The organization webhook was turned off."
        delivery.save(update_fields=["status", "last_error"])
        return None
    url = settings_row.webhook_url
    started = time.monotonic()
    status_code, error, refused = None, "", False
    try:
        # Checked again now, not only when saved: the name may resolve elsewhere today
        # (DNS rebinding). The POST then goes to exactly the addresses checked here.
        destination = destinations.webhook_destination(
            url, allow_private=config.flag("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE")
        )
    except destinations.DestinationRefused as refusal:
        error = f"Not sent: {refusal.message}"
        # A name that does not resolve may come back: an ordinary failed attempt. A
        # forbidden URL or address fails this delivery now, without retries.
        refused = not refusal.transient
    else:
        request = webhook_request(delivery, url=url, secret=settings_row.webhook_secret)
        try:
            with destinations.pinned_opener(destination).open(
                request, timeout=config.value("COMPLIANCE_WEBHOOK_TIMEOUT_SECONDS")
            ) as response:
                status_code = response.status
        except urllib.error.HTTPError as failure:
            status_code, error = failure.code, f"HTTP {failure.code}"
        except (urllib.error.URLError, OSError, ValueError) as failure:
            error = f"{type(failure).__name__}: {getattr(failure, 'reason', failure)}"
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        url=url[:500],
        status_code=status_code,
        succeeded=ok,
        error=error[:2000],
        duration_ms=duration_ms,
    )
    delivery.attempts += 1
    if ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.last_error = ""
    elif refused or delivery.attempts >= config.value("COMPLIANCE_DELIVERY_MAX_ATTEMPTS"):
        if refused:
            logger.warning("webhook delivery %s refused: %s", delivery.key, error)
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = error or "gave up"
    else:
        delivery.next_attempt_at = now + config.retry_delay(delivery.attempts)
        delivery.last_error = error
    delivery.save(
        update_fields=["status", "attempts", "delivered_at", "next_attempt_at", "last_error"]
    )
    # A refused destination costs no timeout, so the rest of the run goes on (and is
    # refused in turn unless the URL was fixed meanwhile).
    return None if refused else ok
