"""Exactly-once alerts with real Celery workers, real PostgreSQL and real Redis.

* end to end: a worker with its beat; an MQL nobody touches gets its due-soon warning,
  then its breach alert, in the app and by email, each once;
* a worker killed (SIGKILL) in the middle of a sweep: nothing of that sweep survives,
  the next sweep raises and delivers every alert once;
* two workers sweeping and delivering at the same time;
* the broker lost for a while (our own Redis, stopped and started again in the test):
  alerts raised meanwhile are delivered once when it is back.

Data the workers must see is written through ``CommittedWorld`` (see committed.py).
"""

from __future__ import annotations

import email
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.compliance.models import Alert, AlertDelivery, Notification
from apps.compliance.tasks import alert_deliveries_task, tenant_sweep_task
from apps.sla.models import SlaClock
from config.celery_app import app as celery_app
from tests.compliance.committed import CommittedWorld
from tests.support import processes
from tests.support.processes import ROOT, celery_worker, free_port, wait_until

pytestmark = [pytest.mark.worker]

CALENDAR_CLOCK = {
    "owner_team": "sales",
    "metric": "first_contact_time",
    "params": {"hours": 1, "clock": "calendar"},
    "target": 0.8,
    "yellow_threshold": 0.6,
    "label": "First contact within the hour",
}


@pytest.fixture
def world(db):
    world = CommittedWorld()
    celery_app.control.purge()  # no message left over from an earlier run in our queue
    yield world
    world.cleanup()


def _sales_team(world):
    with world.writes():
        rep = world.user("rep", name="Riley Rep", email=f"riley-{time.time_ns()}@acme.test")
        leader = world.user(
            "sales_leader", name="Sam Lead", email=f"sam-{time.time_ns()}@acme.test"
        )
        version = world.version(commitments=(CALENDAR_CLOCK,))
        commitment = version.commitments.get()
    return rep, leader, commitment


def _send(task) -> None:
    with schema_context("acme"):
        task.delay()


def _mails(folder: Path) -> list[email.message.Message]:
    """Every message the file email backend wrote (one file per connection)."""
    found = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk.strip() + b"\n"))
    return found


def _text(message: email.message.Message) -> str:
    return message.get_payload(decode=True).decode()


def _count_in_mails(folder: Path, recipient: str, needle: str) -> int:
    return sum(_text(m).count(needle) for m in _mails(folder) if m["To"] == recipient)


def _assert_each_delivery_once() -> None:
    """Notifications match in-app deliveries one to one; each email alert went in one sent digest."""
    in_app = AlertDelivery.objects.filter(channel="in_app")
    assert set(in_app.values_list("status", flat=True)) <= {"delivered"}
    assert Notification.objects.count() == in_app.count()
    assert set(Notification.objects.values_list("alert_id", "recipient_id")) == set(
        in_app.values_list("alert_id", "recipient_id")
    )
    emails = AlertDelivery.objects.filter(channel="email")
    assert set(emails.values_list("status", flat=True)) <= {"delivered"}
    assert not emails.filter(digest__isnull=True).exists()
    assert not emails.filter(digest__sent_at__isnull=True).exists()


def test_end_to_end_warning_then_breach_in_app_and_by_email_once(world, tmp_path):
    rep, leader, commitment = _sales_team(world)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    with celery_worker(
        tmp_path,
        name="e2e",
        beat=True,
        SWEEP_INTERVAL_SECONDS="2",
        EMAIL_URL="filemail://",
        EMAIL_FILE_PATH=str(mail_dir),
        COMPLIANCE_EMAIL_DIGEST_SECONDS="1",
    ) as (_proc, log):
        time.sleep(3)  # the worker and its beat are up before the MQL arrives
        now = timezone.now()
        with world.writes():
            # An MQL arrives; its first-contact clock runs out in 24 s. Nobody touches it.
            clock = world.mql_with_clock(
                commitment=commitment,
                owner=rep,
                mql_at=now,
                due_at=now + timedelta(seconds=24),
                first_name="Quiet",
                last_name="Prospect",
            )

        def notified(kind: str, user) -> int:
            with world.writes():
                return Notification.objects.filter(
                    alert__clock=clock, kind=kind, recipient=user
                ).count()

        def failure(what: str) -> str:
            return f"{what}\n{log.read_text()[-4000:]}"

        wait_until(lambda: notified("due_soon", rep), timeout=40, message=failure("the warning"))
        with world.writes():
            warned_at = Alert.objects.get(clock=clock, kind="due_soon").created_at
        # 25 % of a 24 s window: the warning comes in its last 6 s, not before.
        assert clock.due_at - timedelta(seconds=6) <= warned_at < clock.due_at
        assert not notified("breach", rep)

        wait_until(
            lambda: notified("breach", rep) and notified("breach", leader),
            timeout=40,
            message=failure("the breach"),
        )
        wait_until(
            lambda: (
                _count_in_mails(mail_dir, rep.email, "SLA breached") >= 1
                and _count_in_mails(mail_dir, leader.email, "SLA breached") >= 1
            ),
            timeout=40,
            message=failure("the emails"),
        )
        time.sleep(6)  # three more sweeps: nothing new may arrive

    with world.writes():
        clock.refresh_from_db()
        assert clock.state == "breached"
        assert Alert.objects.filter(clock=clock).count() == 2
        assert (notified("due_soon", rep), notified("breach", rep), notified("breach", leader)) == (
            1,
            1,
            1,
        )
        assert not Notification.objects.filter(
            alert__clock=clock, kind="due_soon", recipient=leader
        ).exists()
        warned = Notification.objects.get(alert__clock=clock, kind="due_soon")
        breached = Notification.objects.get(alert__clock=clock, kind="breach", recipient=rep)
        assert warned.created_at < breached.created_at
        _assert_each_delivery_once()
    assert _count_in_mails(mail_dir, rep.email, "First contact due soon: Quiet Prospect") == 1
    assert (
        _count_in_mails(mail_dir, rep.email, "SLA breached: first contact for Quiet Prospect") == 1
    )
    assert (
        _count_in_mails(mail_dir, leader.email, "SLA breached: first contact for Quiet Prospect")
        == 1
    )
    assert _count_in_mails(mail_dir, leader.email, "due soon") == 0


def _overdue_clocks(world, rep, commitment, count: int, *, first: int = 0) -> list:
    now = timezone.now()
    with world.writes():
        return [
            world.mql_with_clock(
                commitment=commitment,
                owner=rep,
                mql_at=now - timedelta(hours=2),
                due_at=now - timedelta(minutes=5),
                first_name=f"Overdue{i:03d}",
            )
            for i in range(first, first + count)
        ]


def _all_delivered(world, clocks, recipients: int) -> bool:
    with world.writes():
        breaches = AlertDelivery.objects.filter(alert__clock__in=clocks)
        return (
            breaches.count() == len(clocks) * recipients * 2
            and not breaches.exclude(status="delivered").exists()
        )


def _assert_breaches_once(world, clocks, mail_dir: Path | None, people) -> None:
    with world.writes():
        per_clock = Counter(
            Alert.objects.filter(clock__in=clocks).values_list("clock_id", flat=True)
        )
        assert per_clock == dict.fromkeys((c.pk for c in clocks), 1)
        for person in people:
            assert Notification.objects.filter(
                alert__clock__in=clocks, recipient=person
            ).count() == len(clocks)
        _assert_each_delivery_once()
    if mail_dir is not None:
        for person in people:
            for index in range(len(clocks)):
                title = f"SLA breached: first contact for Overdue{index:03d} "
                assert _count_in_mails(mail_dir, person.email, title) == 1


def test_a_worker_killed_mid_sweep_loses_and_repeats_nothing(world, tmp_path):
    rep, leader, commitment = _sales_team(world)
    clocks = _overdue_clocks(world, rep, commitment, 25)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    mail_env = {"EMAIL_URL": "filemail://", "EMAIL_FILE_PATH": str(mail_dir)}

    # Hold the outbox table so the sweep stops inside its breach transaction: clocks
    # updated and alerts inserted, not committed, waiting to insert the deliveries.
    blocker = psycopg.connect(processes.test_database_url())
    blocker.execute("SET search_path TO acme")
    blocker.execute("LOCK TABLE compliance_alertdelivery IN SHARE MODE")
    monitor = psycopg.connect(processes.test_database_url(), autocommit=True)
    try:
        with celery_worker(tmp_path, name="victim", **mail_env) as (proc, log):
            _send(tenant_sweep_task)
            waiting = wait_until(
                lambda: monitor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE '%%INSERT INTO compliance_alertdelivery%%'"
                ).fetchone(),
                timeout=40,
                message=f"the sweep blocked on the outbox\n{log.read_text()[-3000:]}",
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    finally:
        blocker.rollback()
        blocker.close()
    # The orphaned backend finishes its statement, finds its client gone and rolls back.
    wait_until(
        lambda: (
            not monitor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", waiting).fetchone()
        ),
        timeout=30,
        message="the killed worker's database session to end",
    )
    monitor.close()
    with world.writes():
        assert not Alert.objects.filter(clock__in=clocks).exists()
        states = SlaClock.objects.filter(pk__in=[c.pk for c in clocks]).values_list(
            "state", flat=True
        )
        assert set(states) == {"pending"}

    with celery_worker(tmp_path, name="survivor", **mail_env) as (_proc, log):
        _send(tenant_sweep_task)
        wait_until(
            lambda: _all_delivered(world, clocks, 2), timeout=60, message=log.read_text()[-3000:]
        )
        _send(tenant_sweep_task)  # and once more: nothing new
        _send(alert_deliveries_task)
        time.sleep(3)
    _assert_breaches_once(world, clocks, mail_dir, [rep, leader])


def test_two_workers_sweeping_and_delivering_at_once(world, tmp_path):
    rep, leader, commitment = _sales_team(world)
    clocks = _overdue_clocks(world, rep, commitment, 60)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {"EMAIL_URL": "filemail://", "EMAIL_FILE_PATH": str(mail_dir)}
    with (
        celery_worker(tmp_path, name="one", **env) as (_a, log_a),
        celery_worker(tmp_path, name="two", **env) as (_b, log_b),
    ):
        for _ in range(6):
            _send(tenant_sweep_task)
            _send(alert_deliveries_task)
        wait_until(
            lambda: _all_delivered(world, clocks, 2),
            timeout=90,
            message=f"{log_a.read_text()[-2000:]}\n{log_b.read_text()[-2000:]}",
        )
        time.sleep(2)
    both = log_a.read_text() + log_b.read_text()
    assert "one@" in both and "two@" in both
    _assert_breaches_once(world, clocks, mail_dir, [rep, leader])


def _redis(command: str, folder: Path, port: int | None = None) -> str:
    argv = [sys.executable, "scripts/services.py", command, "--dir", str(folder)]
    if port is not None:
        argv += ["--port", str(port)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of our own (never the shared one), and the test process publishing to it."""
    folder = tmp_path / "redis"
    port = free_port()
    url = _redis("redis-start", folder, port)
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_write_url)

    def repoint(broker: str | None) -> None:
        celery_app.conf.broker_url = broker
        celery_app.conf.broker_write_url = broker
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    repoint(url)
    try:
        yield {"url": url, "port": port, "folder": folder}
    finally:
        repoint(saved[0])
        celery_app.conf.broker_write_url = saved[1]
        _redis("redis-stop", folder)


def test_broker_outage_delays_alerts_but_neither_loses_nor_repeats_them(world, tmp_path, own_redis):
    from apps.compliance.services import tenant_sweep

    rep, leader, commitment = _sales_team(world)
    before = _overdue_clocks(world, rep, commitment, 5)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        "CELERY_BROKER_URL": own_redis["url"],
        "REDIS_URL": own_redis["url"],
        "SWEEP_INTERVAL_SECONDS": "1",
        "EMAIL_URL": "filemail://",
        "EMAIL_FILE_PATH": str(mail_dir),
        "COMPLIANCE_EMAIL_DIGEST_SECONDS": "1",
    }
    with celery_worker(tmp_path, name="steady", beat=True, **env) as (_proc, log):
        wait_until(
            lambda: _all_delivered(world, before, 2), timeout=60, message=log.read_text()[-3000:]
        )

        _redis("redis-stop", own_redis["folder"])
        during = _overdue_clocks(world, rep, commitment, 12, first=5)
        with world.writes():
            # Alerts raised while the broker is gone (the sweep called through the service):
            # committed, but their "deliver now" message cannot be sent.
            run = tenant_sweep(worker="test-during-outage")
            assert run.stats["breaches"]["alerts"] == 12
        time.sleep(3)
        with world.writes():
            owed = AlertDelivery.objects.filter(alert__clock__in=during)
            assert owed.count() == 12 * 2 * 2
            assert set(owed.values_list("status", flat=True)) == {"pending"}

        _redis("redis-start", own_redis["folder"], own_redis["port"])
        wait_until(
            lambda: _all_delivered(world, during, 2),
            timeout=90,
            message=f"delivery after the outage\n{log.read_text()[-3000:]}",
        )
        time.sleep(3)
    _assert_breaches_once(world, before + during, mail_dir, [rep, leader])
    assert connection.schema_name  # the test's own connection is untouched
