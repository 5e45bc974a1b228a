"""Measure Handoff on the benchmark organization and write bench/results/latest.{json,md}.

    python bench/measure.py [--schema bench] [--skip breach]

- ingestion: 1,000-activity batches that qualify nobody and batches that make 1,000 MQLs,
  in-process and over HTTP to gunicorn, with the MQLs each batch really created, its
  statements, and the anchors of the same run (COPY of the same rows into a bare table and
  into one with the activities' indexes); lead upserts over HTTP;
- compliance: one month's compliance live (the API with as_of) against pandas in memory on an
  export of the same facts (the MQL-event fact table), numbers compared cell by cell;
- sweep: one full per-tenant sweep (breaches, warnings, snapshots, escalations);
- dashboards: scorecard page, compliance API and chart endpoints, with their query counts;
- breach delay: a real worker + beat; clocks falling due are alerted within how long.
"""

import argparse
import io
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
import psycopg
from _django import RESULTS, ROOT
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.services import api_key_create
from apps.handoff import channels
from apps.leads.models import Activity, Lead, Stage, activity_family
from apps.mql.models import MqlEvent
from apps.sla.models import SlaClock
from apps.tenants.models import Organization


def timed(fn, repeat: int = 5) -> dict:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    figures = {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "runs": repeat,
    }
    if repeat >= 20:  # a 95th percentile means something from twenty samples on
        p95 = statistics.quantiles(samples, n=20, method="inclusive")[18]
        figures["p95_ms"] = round(p95 * 1000, 1)
    return figures


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


BATCH = 1000
SENIOR = ["director", "vp", "c_level"]
QUIET_KINDS = [
    ("email_open", {"email": "Monthly product digest"}),
    ("page_view", {"url": "/blog/metrics-layer"}),
    ("email_click", {"email": "Monthly product digest"}),
    ("webinar_registered", {"webinar": "RevOps metrics that matter"}),
]


def _quiet_batch(lead_ids: list[str], tag: str) -> list[dict]:
    """1,000 activities on 1,000 leads (any stage) that qualify nobody: email opens and clicks,
    blog reads, webinar registrations — none is a pricing visit, a demo request or the ebook."""
    now = timezone.now()
    return [
        {
            "external_id": f"{tag}-{i}",
            "lead": lead,
            "kind": QUIET_KINDS[i % len(QUIET_KINDS)][0],
            "occurred_at": (now - timedelta(seconds=i)).isoformat(),
            "properties": QUIET_KINDS[i % len(QUIET_KINDS)][1],
        }
        for i, lead in enumerate(lead_ids)
    ]


def _qualifying_batch(lead_ids: list[str], tag: str) -> list[dict]:
    """1,000 pricing visits on 1,000 fitting, senior leads that never qualified: each makes an
    MQL (30 points for the visit + 10 for seniority + 3 for the page view >= 40)."""
    now = timezone.now()
    return [
        {
            "external_id": f"{tag}-{i}",
            "lead": lead,
            "kind": "page_view",
            "occurred_at": (now - timedelta(seconds=i)).isoformat(),
            "properties": {"url": "https://example.com/pricing"},
        }
        for i, lead in enumerate(lead_ids)
    ]


def _leads_for(kind: str, count: int, used: set[str]) -> list[str]:
    """`count` distinct leads for a batch: random leads for a quiet batch, fitting senior
    leads that never qualified (newest first, each used once) for a qualifying one."""
    if kind == "quiet":
        total = Lead.objects.count()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id FROM {Lead._meta.db_table} TABLESAMPLE SYSTEM (%s)"  # noqa: S608 - table name from the model
                " LIMIT %s",
                [min(100.0, 100.0 * 4 * count / max(total, 1)), count],
            )
            return [row[0] for row in cursor.fetchall()]
    picked = (
        Lead.objects.filter(stage=Stage.LEAD, company_size__gte=50, seniority__in=SENIOR)
        .exclude(mql_events__isnull=False)
        .exclude(external_id__in=used)
        .order_by("-id")
        .values_list("external_id", flat=True)[:count]
    )
    found = list(picked)
    if len(found) < count:
        raise SystemExit(
            f"only {len(found)} leads left that a pricing visit would qualify (each run uses "
            f"{count:,} per qualifying batch): generate a larger organization"
        )
    used.update(found)
    return found


def _mql_count() -> int:
    return MqlEvent.objects.count()


@contextmanager
def _owner_cursor():
    """(cursor, app role) in the current organization's schema as the role that owns the
    tables: the app's role may not create or drop them (README, Sign-off). Without
    DATABASE_OWNER_URL one role does everything: the app's own cursor, and no role to grant."""
    owner_url = os.environ.get("DATABASE_OWNER_URL")
    if not owner_url:
        with connection.cursor() as cursor:
            yield cursor, None
        return
    with psycopg.connect(owner_url, autocommit=True) as owner, owner.cursor() as cursor:
        cursor.execute(f'SET search_path TO "{connection.schema_name}", public')
        yield cursor, connection.settings_dict["USER"]


def _copy_anchor_tables() -> None:
    """Two tables shaped like the activities: without any index, and with the same indexes
    and the same rows (so each index is as deep as the real one)."""
    table = Activity._meta.db_table
    with _owner_cursor() as (cursor, app_role):
        cursor.execute("DROP TABLE IF EXISTS bench_copy_bare, bench_copy_indexed")
        cursor.execute(
            f"CREATE TABLE bench_copy_bare (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        cursor.execute(f"CREATE TABLE bench_copy_indexed (LIKE {table} INCLUDING ALL)")
        cursor.execute(f"INSERT INTO bench_copy_indexed SELECT * FROM {table}")  # noqa: S608 - table name from the model
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('bench_copy_indexed', 'id'),"
            " (SELECT max(id) FROM bench_copy_indexed))"
        )
        cursor.execute("ANALYZE bench_copy_indexed")
        if app_role is not None:
            cursor.execute(f'GRANT ALL ON bench_copy_bare, bench_copy_indexed TO "{app_role}"')
            cursor.execute(
                f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{connection.schema_name}" TO "{app_role}"'
            )


def _copy_seconds(target: str, items: list[dict]) -> float:
    """COPY the batch's rows (as the ingestion stores them) into `target`, rolled back after."""
    ids = dict(
        Lead.objects.filter(external_id__in=[i["lead"] for i in items]).values_list(
            "external_id", "pk"
        )
    )
    now = timezone.now()
    rows = [
        (
            ids[i["lead"]],
            i["kind"],
            activity_family(i["kind"]),
            i["occurred_at"],
            f"copy-{i['external_id']}",
            json.dumps(i["properties"]),
            "",
            now,
        )
        for i in items
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.cursor.copy(
            f"COPY {target} (lead_id, kind, family, occurred_at, external_id, properties, note,"
            " recorded_at) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def _summary(samples: list[float], statements: list[int], mqls: list[int]) -> dict:
    median = statistics.median(samples)
    return {
        "batches": len(samples),
        "median_ms": round(median * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "activities_per_second": round(BATCH / median),
        "statements_per_batch": sorted(set(statements)) if statements else None,
        "mqls_created_per_batch": mqls,
    }


def bench_ingestion(org: Organization, batches: int = 5) -> dict:
    """Two batch kinds, in-process and over HTTP, against COPY anchors measured in the same run.

    Quiet: 1,000 activities that qualify nobody; qualifying: 1,000 activities that turn
    1,000 leads into MQLs (stage change, routing, three clocks each). Each batch's MQLs are
    counted, not assumed. The machine may be shared: the ratios to the indexed COPY of the
    same rows say more than the absolute figures.
    """
    host = org.domains.first().domain
    stamp = int(time.time())
    used: set[str] = set()
    report: dict = {"batch": BATCH}
    with schema_context(org.schema_name):
        # 1-minute load average before the section (2 cores: above 2 the machine is shared).
        report["load_average_before"] = round(os.getloadavg()[0], 1)
        _copy_anchor_tables()
        _, token = api_key_create(name="bench", created_by=None)
        # A warm-up batch: imports, caches and the first connection are not the ingestion's.
        channels.activities_ingest(
            items=_quiet_batch(_leads_for("quiet", BATCH, used), f"warm-{stamp}"),
            channel="api",
            actor=None,
        )
        copies: dict[str, list[float]] = {"bench_copy_bare": [], "bench_copy_indexed": []}
        for kind, make in (("quiet", _quiet_batch), ("qualifying", _qualifying_batch)):
            samples, statements, mqls = [], [], []
            for b in range(batches):
                items = make(_leads_for(kind, BATCH, used), f"bench-{stamp}-{kind}-in-{b}")
                for target, times in copies.items():
                    times.append(_copy_seconds(target, items))
                before = _mql_count()
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    result = channels.activities_ingest(items=items, channel="api", actor=None)
                    samples.append(time.perf_counter() - started)
                assert result.created == BATCH, result.as_dict()
                statements.append(sum(not q["sql"].startswith("SET search_path") for q in queries))
                mqls.append(_mql_count() - before)
            report[kind] = {"in_process": _summary(samples, statements, mqls)}
    report["anchors"] = {
        "bare_copy_ms": round(statistics.median(copies["bench_copy_bare"]) * 1000, 1),
        "indexed_copy_ms": round(statistics.median(copies["bench_copy_indexed"]) * 1000, 1),
    }
    with gunicorn() as port:
        path = reverse("api:leads:activity_ingest", urlconf="config.urls_tenant")
        for kind, make in (("quiet", _quiet_batch), ("qualifying", _qualifying_batch)):
            samples, mqls = [], []
            for b in range(batches + 1):
                with schema_context(org.schema_name):
                    items = make(_leads_for(kind, BATCH, used), f"bench-{stamp}-{kind}-http-{b}")
                    before = _mql_count()
                started = time.perf_counter()
                status, body = post(port, host, path, token, items)
                elapsed = time.perf_counter() - started
                assert status in (200, 201, 207), body
                assert body["created"] == BATCH, body
                if b == 0:
                    continue  # each gunicorn worker's first request loads the app
                samples.append(elapsed)
                with schema_context(org.schema_name):
                    mqls.append(_mql_count() - before)
            report[kind]["http"] = _summary(samples, [], mqls)
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
                for i in range(BATCH)
            ]
            started = time.perf_counter()
            status, body = post(
                port,
                host,
                reverse("api:leads:lead_upsert", urlconf="config.urls_tenant"),
                token,
                items,
            )
            samples.append(time.perf_counter() - started)
            assert status in (200, 201, 207), body
        report["lead_upserts_http"] = {
            "median_ms": round(statistics.median(samples) * 1000, 1),
            "leads_per_second": round(BATCH / statistics.median(samples)),
        }
    indexed = report["anchors"]["indexed_copy_ms"] / 1000
    bare = report["anchors"]["bare_copy_ms"] / 1000
    for kind in ("quiet", "qualifying"):
        for mode in ("in_process", "http"):
            figures = report[kind][mode]
            median = figures["median_ms"] / 1000
            figures["x_indexed_copy"] = round(median / indexed, 1)
            figures["x_bare_copy"] = round(median / bare, 1)
    with schema_context(org.schema_name), _owner_cursor() as (cursor, _role):
        cursor.execute("DROP TABLE IF EXISTS bench_copy_bare, bench_copy_indexed")
    report["load_average_after"] = round(os.getloadavg()[0], 1)
    return report


# --- one month's compliance: the API with as_of against pandas on the same facts ------------

_FACT_EXPORT = """
    SELECT event_id, lead_id, mql_at, sla_version_id, first_contact_due, follow_up_due,
           disposition_due, cadence_touches, first_touch_at, nth_touch_at,
           first_contact_business_seconds, disposition_at, disposition_outcome,
           disposition_reason_code_id, sql_at
    FROM compliance_mqleventfact
    WHERE kind = 'mql' AND mql_at >= %(start)s AND mql_at < %(end)s AND mql_at <= %(as_of)s"""

_DUE = {
    "first_contact_time": ("first_contact_due", "first_touch_at"),
    "disposition_time": ("disposition_due", "disposition_at"),
}


def _pandas_kind(frame, metric: str, terms: dict[int, tuple[int, int]], as_of) -> dict:
    """DESIGN.md's figure of one commitment kind, in pandas: ``terms`` maps each version of
    the kind to its commitment's (touches, days). Returns met / missed / pending counts (the
    count for mql_volume) and, for first contact, the median and p90 business hours."""
    import numpy as np
    import pandas as pd

    cohort = frame[frame["sla_version_id"].isin(list(terms))]
    out: dict = {}
    if metric == "mql_volume":
        return {"met": len(cohort), "missed": 0}
    if metric == "mql_to_sql_rate":
        met = int((cohort["sql_at"] <= as_of).sum())
        return {"met": met, "missed": len(cohort) - met}
    if metric in _DUE:
        due_col, fact_col = _DUE[metric]
        cohort = cohort[cohort[due_col].notna()]
        due = cohort[due_col]
        known = cohort[fact_col].where(cohort[fact_col] <= as_of)
        met = known.notna() & (known <= due)
        missed = (known.notna() & (known > due)) | (known.isna() & (due < as_of))
        out = {"met": int(met.sum()), "missed": int(missed.sum())}
        if metric == "first_contact_time":
            hours = (cohort["first_contact_business_seconds"][known.notna()] / 3600).dropna()
            # numpy's default 'linear' method is PostgreSQL's percentile_cont.
            out["median_hours"] = float(np.quantile(hours, 0.5)) if len(hours) else None
            out["p90_hours"] = float(np.quantile(hours, 0.9)) if len(hours) else None
        return out
    if metric == "follow_up_cadence":
        touches = cohort["sla_version_id"].map({v: t for v, (t, _) in terms.items()})
        days = cohort["sla_version_id"].map({v: d for v, (_, d) in terms.items()})
        if not (cohort["cadence_touches"] == touches).all():
            raise SystemExit("a second cadence commitment per version: not in the pandas anchor")
        window_end = cohort["mql_at"] + pd.to_timedelta(days * 86400.0, unit="s")
        until = window_end.where(window_end < as_of, as_of)
        met = (cohort["nth_touch_at"] <= until) | (cohort["disposition_at"] <= until)
        missed = ~met & (window_end < as_of)
        return {"met": int(met.sum()), "missed": int(missed.sum())}
    if metric == "rejection_reason_coverage":
        rejected = cohort[
            (cohort["disposition_at"] <= as_of) & (cohort["disposition_outcome"] == "rejected")
        ]
        met = int(rejected["disposition_reason_code_id"].notna().sum())
        return {"met": met, "missed": len(rejected) - met}
    raise ValueError(metric)


def bench_compliance(org: Organization) -> dict:
    """Last month's compliance as of its end, through the API (every commitment kind, computed
    live because as_of is given), against pandas in memory on the exported fact rows of the
    same month: times in the same run, and every kind's counts compared."""
    import pandas as pd

    from apps.compliance import kind_selectors
    from apps.compliance.periods import PeriodKind, period_for, previous
    from apps.compliance.selectors import organization_timezone

    host = org.domains.first().domain
    with schema_context(org.schema_name):
        executive = User.objects.get(role="executive", email="cro@acme.test")
        client = Client(HTTP_HOST=host, SERVER_NAME=host)
        client.force_login(executive)
        month = previous(period_for(PeriodKind.MONTH, timezone.now(), organization_timezone()))
        as_of = month.end
        url = (
            f"/api/v1/compliance/?period=month&start={month.first_day.isoformat()}"
            f"&review_period=all&as_of={as_of.isoformat().replace('+', '%2B')}"
        )
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")
        api = timed(lambda: client.get(url), repeat=7)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)

        # The export: the month's fact rows as CSV (COPY), read into pandas — not timed as
        # part of the anchor, which is the computation in memory.
        params = {"start": month.start, "end": month.end, "as_of": as_of}
        started = time.perf_counter()
        with connection.cursor() as cursor:
            sql = cursor.mogrify(_FACT_EXPORT, params)
            buffer = io.BytesIO()
            with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                for chunk in copy:
                    buffer.write(chunk)
        buffer.seek(0)
        stamps = ["mql_at", "first_contact_due", "follow_up_due", "disposition_due"]
        stamps += ["first_touch_at", "nth_touch_at", "disposition_at", "sql_at"]
        frame = pd.read_csv(buffer)
        for column in stamps:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        export_ms = round((time.perf_counter() - started) * 1000, 1)

        catalog = kind_selectors.signed_commitments()
        kinds = kind_selectors.commitment_kinds(period=month, catalog=catalog, as_of=as_of)
        compared, skipped, mismatches = [], [], []
        plans = []
        for kind in kinds:
            siblings = {
                (c.version_id, c.metric)
                for c in catalog
                if c.pk not in {k.pk for k in kind.commitments}
            }
            plain = all(
                not c.segment and (c.version_id, c.metric) not in siblings for c in kind.commitments
            )
            if kind.metric == "pipeline_coverage" or not plain:
                skipped.append(kind.key)
                continue
            terms = {
                c.version_id: (
                    int((c.params or {}).get("touches") or 0),
                    int((c.params or {}).get("days") or 0),
                )
                for c in kind.commitments
            }
            plans.append((kind, terms))
        pandas_out: dict = {}

        def anchor():
            for kind, terms in plans:
                pandas_out[kind.key] = _pandas_kind(frame, kind.metric, terms, pd.Timestamp(as_of))

        pandas = timed(anchor, repeat=7)
        by_key = {row["kind"]: row for row in response.json()["results"]}
        for kind, _terms in plans:
            ours, theirs = by_key.get(kind.key), pandas_out[kind.key]
            if ours is None:
                mismatches.append(f"{kind.key}: not in the API's answer")
                continue
            if kind.metric == "mql_volume":
                pairs = [("count", ours["numerator"], theirs["met"])]
            else:
                pairs = [
                    ("met", ours["numerator"], theirs["met"]),
                    ("met+missed", ours["denominator"], theirs["met"] + theirs["missed"]),
                ]
            if kind.metric == "first_contact_time":
                pairs += [
                    ("median_hours", ours["median_hours"], theirs["median_hours"]),
                    ("p90_hours", ours["p90_hours"], theirs["p90_hours"]),
                ]
            for name, a, b in pairs:
                same = (a is None and b is None) or (
                    a is not None
                    and b is not None
                    and abs(float(a) - float(b)) <= 1e-9 * max(1, abs(b))
                )
                if not same:
                    mismatches.append(f"{kind.key} {name}: API {a}, pandas {b}")
            compared.append(kind.key)
        events = len(frame)
    return {
        "period": f"month of {month.first_day.isoformat()}, as of its end",
        "mql_events": events,
        "kinds_compared": compared,
        "kinds_not_in_anchor": skipped,
        "equal": not mismatches,
        "mismatches": mismatches,
        "api_live": {**api, "queries": len(queries)},
        "pandas_in_memory": pandas,
        "export_to_pandas_ms": export_ms,
        "api_over_pandas": round(api["median_ms"] / pandas["median_ms"], 2),
    }


def bench_sweep(org: Organization) -> dict:
    from apps.compliance.services import tenant_sweep

    with schema_context(org.schema_name):
        # A warm-up sweep first: the one after a server restart reads every table cold.
        tenant_sweep(worker="bench")
        return timed(lambda: tenant_sweep(worker="bench"), repeat=5)


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
                # The scorecard's goal is a p95: twenty views of it.
                **timed(lambda url=url: client.get(url), repeat=20 if name == "scorecard" else 5),
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
        choices=["ingestion", "compliance", "sweep", "dashboards", "breach"],
    )
    args = parser.parse_args()
    org = Organization.objects.get(schema_name=args.schema)
    with schema_context(org.schema_name):
        sizes = {
            "leads": Lead.objects.count(),
            "mql_events": MqlEvent.objects.count(),
            "sla_clocks": SlaClock.objects.count(),
        }
    # A partial run (--skip) keeps the other sections of the last results.
    previous = RESULTS / "latest.json"
    report = json.loads(previous.read_text()) if previous.exists() else {}
    stamp = {
        "when": timezone.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "data": sizes,
    }
    # The top-level stamp describes a full run; a partial one stamps only its sections.
    if not args.skip:
        report |= stamp
    # Ingestion last: its qualifying batches add MQLs to the current week, which the sweep
    # and the dashboards would otherwise measure too.
    steps = {
        "compliance": bench_compliance,
        "sweep": bench_sweep,
        "dashboards": bench_dashboards,
        "breach": bench_breach_delay,
        "ingestion": bench_ingestion,
    }
    for name, step in steps.items():
        if name in args.skip:
            continue
        print(f"› {name} …", flush=True)
        report[name] = {**stamp, **step(org)}
        print(json.dumps(report[name], indent=1), flush=True)
    if "ingestion" not in args.skip:
        report["notes"] = (
            "Ingestion batches are 1,000 activities on 1,000 distinct leads: 'quiet' ones "
            "qualify nobody (email opens and clicks, blog reads, webinar registrations on random "
            "leads), 'qualifying' ones are pricing visits on fitting senior leads that never "
            "qualified, each making an MQL (stage change, routing, 3 clocks); "
            "mqls_created_per_batch is counted, not assumed. The anchors are measured in the same "
            "run on the same rows: COPY into a table without indexes and into one with the "
            "activities' indexes and rows; x_indexed_copy is a batch's median over the indexed "
            "COPY's. On a shared machine compare the ratios, not the absolute figures. History "
            "snapshots were computed with recompute_snapshots before measuring (bench/run)."
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
