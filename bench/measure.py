"""Measure Handoff on the benchmark organization and write bench/results/latest.{json,md}.

    python bench/measure.py [--schema bench] [--skip breach]

- ingestion: activities and lead upserts posted in 1,000-item batches over HTTP to gunicorn;
- sweep: one full per-tenant sweep (breaches, warnings, snapshots, escalations);
- dashboards: scorecard page, compliance API and chart endpoints, with their query counts;
- breach delay: a real worker + beat; clocks falling due are alerted within how long.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import timedelta

import _django  # noqa: F401  (Django set-up)
from _django import RESULTS, ROOT
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.services import api_key_create
from apps.leads.models import Lead
from apps.tenants.models import Organization


def timed(fn, repeat: int = 5) -> dict:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "runs": repeat,
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra) -> dict:
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env.update(extra)
    return env


@contextmanager
def gunicorn(workers: int = 2):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            "2",
        ],
        cwd=ROOT,
        env=child_env(
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY="bench-" * 10,
            DJANGO_SECURE_SSL_REDIRECT="false",
            DJANGO_ALLOWED_HOSTS="*",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except Exception:
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def post(port: int, host: str, path: str, token: str, body) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Host": host,
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "X-Forwarded-Proto": "https",
        },
    )
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def bench_ingestion(org: Organization, batches: int = 10) -> dict:
    host = org.domains.first().domain
    with schema_context(org.schema_name):
        _, token = api_key_create(name="bench", created_by=None)
        lead_ids = list(Lead.objects.order_by("-id").values_list("external_id", flat=True)[:5000])
    stamp = int(time.time())
    results = {}
    with gunicorn() as port:
        samples = []
        for b in range(batches):
            items = [
                {
                    "external_id": f"bench-{stamp}-{b}-{i}",
                    "lead": lead_ids[(b * 1000 + i) % len(lead_ids)],
                    "kind": "page_view",
                    "occurred_at": timezone.now().isoformat(),
                    "properties": {"url": "/pricing"},
                }
                for i in range(1000)
            ]
            t = time.perf_counter()
            status, body = post(
                port,
                host,
                reverse("api:leads:activity_ingest", urlconf="config.urls_tenant"),
                token,
                items,
            )
            samples.append(time.perf_counter() - t)
            assert status in (200, 201, 207), body
        results["activities_per_second"] = round(1000 * batches / sum(samples))
        results["activity_batch_median_ms"] = round(statistics.median(samples) * 1000)
        samples = []
        for b in range(batches):
            items = [
                {
                    "external_id": f"bench-lead-{stamp}-{b}-{i}",
                    "email": f"n{stamp}{b}{i}@new.example",
                    "company": "New Co",
                    "company_size": 300,
                    "country": "US",
                    "source": "webinar",
                }
                for i in range(1000)
            ]
            t = time.perf_counter()
            status, body = post(
                port,
                host,
                reverse("api:leads:lead_upsert", urlconf="config.urls_tenant"),
                token,
                items,
            )
            samples.append(time.perf_counter() - t)
            assert status in (200, 201, 207), body
        results["lead_upserts_per_second"] = round(1000 * batches / sum(samples))
        results["lead_batch_median_ms"] = round(statistics.median(samples) * 1000)
    return results


def bench_sweep(org: Organization) -> dict:
    from apps.compliance.services import tenant_sweep

    with schema_context(org.schema_name):
        return timed(lambda: tenant_sweep(worker="bench"), repeat=3)


def bench_dashboards(org: Organization) -> dict:
    host = org.domains.first().domain
    results = {}
    with schema_context(org.schema_name):
        executive = User.objects.get(role="executive", email="cro@acme.test")
        client = Client(HTTP_HOST=host, SERVER_NAME=host)
        client.force_login(executive)
        week = (timezone.localdate() - timedelta(days=timezone.localdate().weekday())).isoformat()
        pages = {
            "scorecard": reverse("dashboards:scorecard"),
            "charts": reverse("dashboards:charts"),
            "weekly_huddle": reverse("dashboards:huddle"),
            "compliance_api_week": f"/api/v1/compliance/?period=week&start={week}",
        }
        # Charts are stored (apps/dashboards/snapshots.py): measure the first view with
        # nothing stored (every chart computed in the request), then the stored reads.
        from apps.dashboards.models import ChartSnapshot
        from apps.dashboards.snapshots import charts_refresh

        ChartSnapshot.objects.all().delete()
        for name, url in pages.items():
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                status = client.get(url).status_code
            first_ms = round((time.perf_counter() - started) * 1000, 1)
            with CaptureQueriesContext(connection) as again:
                client.get(url)
            results[name] = {
                "status": status,
                "queries": len(queries),
                "queries_next_view": len(again),
                "first_view_ms": first_ms,
                **timed(lambda url=url: client.get(url), repeat=5),
            }
        # What the worker spends every DASHBOARD_CHARTS_REFRESH_SECONDS on this organization:
        # every chart of this week, month and quarter.
        started = time.perf_counter()
        done = charts_refresh()
        results["charts_refresh"] = {
            "charts": done["computed"],
            "seconds": round(time.perf_counter() - started, 1),
            "slowest_ms": [
                f"{chart} ({kind}): {ms}"
                for chart, kind, ms in ChartSnapshot.objects.filter(frozen=False)
                .order_by("-compute_ms")
                .values_list("chart", "period_kind", "compute_ms")[:6]
            ],
        }
    return results


def bench_breach_delay(org: Organization, clocks: int = 200, interval: int = 10) -> dict:
    """Open clocks due 20–40 s from now, run a worker with beat, and time the breach alerts."""
    from apps.compliance.models import Alert
    from apps.sla.models import SlaClock

    with schema_context(org.schema_name):
        candidates = list(SlaClock.objects.filter(state="pending").order_by("-id")[:clocks])
        if len(candidates) < clocks:
            return {"skipped": "not enough pending clocks"}
        now = timezone.now()
        due = {}
        for i, clock in enumerate(candidates):
            clock.due_at = now + timedelta(seconds=20 + 20 * i / clocks)
            due[clock.pk] = clock.due_at
        SlaClock.objects.bulk_update(candidates, ["due_at"])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-B",
            "--pool=solo",
            "-s",
            str(RESULTS / "beat-bench"),
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=child_env(SWEEP_INTERVAL_SECONDS=str(interval), EMAIL_URL="dummymail://"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        delays = []
        while time.monotonic() < deadline:
            with schema_context(org.schema_name):
                rows = list(
                    Alert.objects.filter(
                        clock_id__in=due.keys(), kind__contains="breach"
                    ).values_list("clock_id", "created_at")
                )
            seen = {}
            for clock_id, created in rows:
                seen[clock_id] = min(created, seen.get(clock_id, created))
            if len(seen) >= len(due):
                delays = [(seen[c] - due[c]).total_seconds() for c in due]
                break
            time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if not delays:
        return {"error": "not every clock was alerted within 180 s"}
    delays.sort()
    return {
        "clocks": clocks,
        "sweep_interval_s": interval,
        "p50_s": round(statistics.median(delays), 1),
        "p95_s": round(delays[int(0.95 * len(delays)) - 1], 1),
        "max_s": round(delays[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schema", default="bench")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["ingestion", "sweep", "dashboards", "breach"],
    )
    args = parser.parse_args()
    org = Organization.objects.get(schema_name=args.schema)
    with schema_context(org.schema_name):
        from apps.mql.models import MqlEvent
        from apps.sla.models import SlaClock

        sizes = {
            "leads": Lead.objects.count(),
            "mql_events": MqlEvent.objects.count(),
            "sla_clocks": SlaClock.objects.count(),
        }
    # A partial run (--skip) keeps the other sections of the last results.
    previous = RESULTS / "latest.json"
    report = json.loads(previous.read_text()) if previous.exists() else {}
    report |= {
        "when": timezone.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "data": sizes,
    }
    steps = {
        "ingestion": bench_ingestion,
        "sweep": bench_sweep,
        "dashboards": bench_dashboards,
        "breach": bench_breach_delay,
    }
    for name, step in steps.items():
        if name in args.skip:
            continue
        print(f"› {name} …", flush=True)
        report[name] = step(org)
        print(json.dumps(report[name], indent=1), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
