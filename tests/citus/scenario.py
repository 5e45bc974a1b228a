"""The product run the Citus tests make, in a process of its own against one database.

    DATABASE_URL=… python -m tests.citus.scenario month --subdomain acme --seed 1 --now ISO
    DATABASE_URL=… python -m tests.citus.scenario stream --subdomain acme --stop-file PATH
    DATABASE_URL=… python -m tests.citus.scenario report --subdomain acme --now ISO

Each command prints one JSON object on stdout. The organization itself is made by the
`create_organization` management command; everything here goes through the product's
services (users, tokens, the demo seeders for the definitions and the signed SLA, the sweep)
and its HTTP API (leads, activities, touches, dispositions, compliance), with the tenant
taken from the Host header as in production. The same seed and `now` give the same input on
any database, so a cluster and a single server can be compared number for number.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402 - after django.setup()
from django.test import Client  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.accounts.services import api_key_create, user_create  # noqa: E402
from apps.compliance.models import Alert  # noqa: E402
from apps.compliance.services import tenant_sweep  # noqa: E402
from apps.leads.models import Activity, Lead  # noqa: E402
from apps.mql.models import MqlEvent  # noqa: E402
from apps.sla.models import SlaClock  # noqa: E402
from apps.tenants.management.commands.seed_demo import (  # noqa: E402
    DEMO_PASSWORD,
    DEMO_USERS,
    demo_seeders,
)
from apps.tenants.models import Organization  # noqa: E402

# The seeders that give an organization its ICP, published MQL definition and signed SLA.
SETUP_SEEDERS = ("apps.icp", "apps.mql", "apps.sla")
REPS = [email for email, _name, role in DEMO_USERS if role == "rep"]
BATCH = 50
# The month of traffic ends this long before `now`, so every clock of it is due by then.
QUIET_DAYS = 10
MONTH_DAYS = 30


def host(subdomain: str) -> str:
    return f"{subdomain}.{settings.BASE_DOMAIN}"


def api_client(subdomain: str) -> Client:
    """An API client on the organization's host with a new organization API key."""
    organization = Organization.objects.get(subdomain=subdomain)
    with schema_context(organization.schema_name):
        _key, token = api_key_create(name="citus scenario", created_by=None)
    return Client(HTTP_HOST=host(subdomain), HTTP_AUTHORIZATION=f"Bearer {token}")


def leader_client(subdomain: str, email: str) -> Client:
    """An API client acting as one user (personal token): the compliance API is for leaders."""
    organization = Organization.objects.get(subdomain=subdomain)
    with schema_context(organization.schema_name):
        user = User.objects.get(email=email)
        _key, token = api_key_create(name="citus scenario", created_by=user, user=user)
    return Client(HTTP_HOST=host(subdomain), HTTP_AUTHORIZATION=f"Bearer {token}")


def post(client: Client, path: str, body: Any) -> dict:
    """POST JSON; fail loudly on anything but 2xx (the run must not lose anything silently)."""
    response = client.post(path, json.dumps(body), content_type="application/json")
    if response.status_code >= 300:
        raise SystemExit(f"POST {path} -> {response.status_code}: {response.content[:2000]!r}")
    return response.json()


def setup(subdomain: str, now: datetime, seed: int) -> None:
    """Users of every role and the agreed definitions and signed SLA, through the services."""
    organization = Organization.objects.get(subdomain=subdomain)
    with schema_context(organization.schema_name):
        if User.objects.filter(email=DEMO_USERS[1][0]).exists():
            return
        for email, name, role in DEMO_USERS[1:]:
            user_create(email=email, name=name, role=role, password=DEMO_PASSWORD)
        rng = random.Random(seed)
        for app_name, seed_app in demo_seeders():
            if app_name in SETUP_SEEDERS:
                seed_app(now=now, rng=rng)


def month_traffic(seed: int, now: datetime, leads: int) -> dict[str, list[dict]]:
    """A month of leads, buying signals, sales touches and dispositions, the same for a seed."""
    rng = random.Random(seed)
    start = now - timedelta(days=QUIET_DAYS + MONTH_DAYS)
    out: dict[str, list[dict]] = {"leads": [], "activities": [], "touches": [], "dispositions": []}
    for i in range(leads):
        external_id = f"S{seed}-L{i}"
        created = start + timedelta(seconds=rng.randrange(MONTH_DAYS * 86400))
        owner = REPS[i % len(REPS)]
        out["leads"].append(
            {
                "external_id": external_id,
                "email": f"person{i}@company{i % 37}.example",
                "first_name": "Pat",
                "last_name": f"Lee {i}",
                "company": f"Company {i % 37}",
                "company_size": rng.choice([20, 80, 250, 700, 2000]),
                "source": rng.choice(["webinar", "paid_search", "organic", "events"]),
                "owner": owner,
                "created_at": created.isoformat(),
            }
        )
        if rng.random() < 0.2:
            continue  # never shows a buying signal
        signal = created + timedelta(minutes=rng.randrange(5, 3 * 24 * 60))
        for n, (kind, properties) in enumerate(
            (("page_view", {"url": "/pricing"}), ("form_submit", {"form": "demo-request"}))
        ):
            out["activities"].append(
                {
                    "external_id": f"{external_id}-A{n}",
                    "lead": external_id,
                    "kind": kind,
                    "occurred_at": (signal + timedelta(minutes=n)).isoformat(),
                    "properties": properties,
                }
            )
        roll = rng.random()
        if roll < 0.15:
            continue  # nobody ever calls: missed first contact
        touched = signal + timedelta(minutes=rng.choice([7, 45, 200, 600, 2000, 5000]))
        out["touches"].append(
            {
                "external_id": f"{external_id}-T",
                "lead": external_id,
                "kind": "call",
                "occurred_at": touched.isoformat(),
                "actor": owner,
            }
        )
        if roll < 0.45:
            continue  # touched, no disposition yet
        outcome = rng.choice(["accepted", "accepted", "rejected", "nurture", "working"])
        disposition = {
            "external_id": f"{external_id}-D",
            "lead": external_id,
            "outcome": outcome,
            "occurred_at": (touched + timedelta(hours=rng.choice([1, 20, 80]))).isoformat(),
            "actor": owner,
        }
        if outcome in {"rejected", "nurture"}:
            disposition["reason_code"] = "timeline"
        out["dispositions"].append(disposition)
    return out


def send(client: Client, traffic: dict[str, list[dict]], reason_codes: dict[str, str]) -> dict:
    """Post the traffic in bulk batches, in the order a CRM would send it."""
    sent = {}
    for kind, path in (
        ("leads", "/api/v1/leads/upsert/"),
        ("activities", "/api/v1/activities/ingest/"),
        ("touches", "/api/v1/touches/bulk/"),
        ("dispositions", "/api/v1/dispositions/bulk/"),
    ):
        items = traffic[kind]
        if kind == "dispositions":
            items = [
                {**item, "reason_code": reason_codes[item["outcome"]]}
                if "reason_code" in item
                else item
                for item in items
            ]
        for offset in range(0, len(items), BATCH):
            post(client, path, {"items": items[offset : offset + BATCH]})
        sent[kind] = len(items)
    return sent


def reason_code_keys(client: Client) -> dict[str, str]:
    """One reason code per outcome that needs one, from the organization's own picklist."""
    rows = client.get("/api/v1/reason-codes/").json()["results"]
    found: dict[str, str] = {}
    for row in rows:
        if row["outcome"] in {"rejected", "nurture"} and row["is_active"]:
            found.setdefault(row["outcome"], str(row["id"]))
    return found


def months_of(now: datetime) -> list[str]:
    """First days of the calendar months the traffic touches, and the current one."""
    day = (now - timedelta(days=QUIET_DAYS + MONTH_DAYS + 3)).date().replace(day=1)
    months = []
    while day <= now.date():
        months.append(day.isoformat())
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def counts(subdomain: str) -> dict[str, Any]:
    """What the organization holds (to show nothing was lost and nothing leaked in)."""
    organization = Organization.objects.get(subdomain=subdomain)
    with schema_context(organization.schema_name):
        return {
            "leads": Lead.objects.count(),
            "activities": Activity.objects.count(),
            "mql_events": MqlEvent.objects.count(),
            "clocks": _grouped(SlaClock.objects.values_list("state", flat=True)),
            "alerts": _grouped(Alert.objects.values_list("kind", flat=True)),
            "lead_ids": sorted(Lead.objects.values_list("external_id", flat=True)),
        }


def _grouped(values) -> dict[str, int]:
    grouped: dict[str, int] = {}
    for value in values:
        grouped[str(value)] = grouped.get(str(value), 0) + 1
    return dict(sorted(grouped.items()))


def compliance(subdomain: str, now: datetime) -> dict[str, Any]:
    """The compliance API for each month of the run, as the executive sees it, as of `now`."""
    client = leader_client(subdomain, "cro@acme.test")
    out = {}
    for start in months_of(now):
        response = client.get(
            "/api/v1/compliance/", {"period": "month", "start": start, "as_of": now.isoformat()}
        )
        if response.status_code != 200:
            raise SystemExit(f"compliance {start} -> {response.status_code}: {response.content!r}")
        out[start] = response.json()
    return out


# Dashboard charts whose points are counts of the organization's own facts (not of "now").
CHARTS = ("funnel", "rejections", "speed-to-lead")


def dashboards(subdomain: str) -> dict[str, Any]:
    """The scorecard answers, and each chart's points without their links (the executive's view)."""
    client = leader_client(subdomain, "cro@acme.test")
    scorecard = client.get("/api/v1/dashboards/scorecard/")
    out: dict[str, Any] = {
        "scorecard_status": scorecard.status_code,
        "scorecard_tiles": sum(len(group["tiles"]) for group in scorecard.json()["groups"]),
    }
    for name in CHARTS:
        response = client.get(f"/api/v1/dashboards/charts/{name}/")
        points = response.json().get("points") or []
        out[name] = {
            "status": response.status_code,
            # Drill-down links carry the instant they were made at; the numbers are what count.
            "points": [{k: v for k, v in point.items() if k != "link"} for point in points],
        }
    return out


def cmd_month(args: argparse.Namespace) -> dict:
    """Set the organization up, send its month of traffic, sweep, and report."""
    now = datetime.fromisoformat(args.now)
    setup(args.subdomain, now, args.seed)
    client = api_client(args.subdomain)
    traffic = month_traffic(args.seed, now, args.leads)
    started = time.monotonic()
    sent = send(client, traffic, reason_code_keys(client))
    organization = Organization.objects.get(subdomain=args.subdomain)
    with schema_context(organization.schema_name):
        tenant_sweep(worker="citus-scenario")
    return {
        "sent": sent,
        "seconds": round(time.monotonic() - started, 1),
        "counts": counts(args.subdomain),
        "compliance": compliance(args.subdomain, now),
        "dashboards": dashboards(args.subdomain),
    }


def cmd_stream(args: argparse.Namespace) -> dict:
    """Keep ingesting new leads with buying signals until the stop file appears (or time runs out)."""
    client = api_client(args.subdomain)
    stop, deadline = Path(args.stop_file), time.monotonic() + args.max_seconds
    now = datetime.fromisoformat(args.now)
    batches = leads = activities = 0
    latencies = []
    while time.monotonic() < deadline and (batches < args.min_batches or not stop.exists()):
        items = [
            {
                "external_id": f"stream-{batches}-{i}",
                "email": f"stream{batches}x{i}@streamco.example",
                "company": "Streamco",
                "company_size": 250,
                "owner": REPS[i % len(REPS)],
            }
            for i in range(args.batch)
        ]
        signals = [
            {
                "external_id": f"stream-{batches}-{i}-A",
                "lead": item["external_id"],
                "kind": "page_view",
                "occurred_at": (now - timedelta(minutes=5)).isoformat(),
                "properties": {"url": "/pricing"},
            }
            for i, item in enumerate(items)
        ]
        began = time.monotonic()
        post(client, "/api/v1/leads/upsert/", {"items": items})
        post(client, "/api/v1/activities/ingest/", {"items": signals})
        latencies.append(time.monotonic() - began)
        batches += 1
        leads += len(items)
        activities += len(signals)
    return {
        "batches": batches,
        "leads": leads,
        "activities": activities,
        "slowest_batch_s": round(max(latencies), 2) if latencies else None,
        "stopped_by_file": stop.exists(),
    }


def cmd_report(args: argparse.Namespace) -> dict:
    """What the organization holds and its compliance figures, without changing anything."""
    if args.counts_only:
        return {"counts": counts(args.subdomain)}
    now = datetime.fromisoformat(args.now)
    return {"counts": counts(args.subdomain), "compliance": compliance(args.subdomain, now)}


def cmd_probe(args: argparse.Namespace) -> dict:
    """What one organization's credentials see on another organization's host, and what it sees
    of a lead whose external id every organization also uses."""
    own = api_client(args.subdomain)
    token = own.defaults["HTTP_AUTHORIZATION"]
    foreign = Client(HTTP_HOST=host(args.other), HTTP_AUTHORIZATION=token)
    listed = foreign.get("/api/v1/leads/")
    shared = {"external_id": "shared-1", "email": f"shared@{args.subdomain}.example"}
    post(own, "/api/v1/leads/upsert/", {"items": [shared]})
    found = own.get("/api/v1/leads/", {"external_id": "shared-1"}).json()["results"]
    return {
        "foreign_key_status": listed.status_code,
        "own_key_status": own.get("/api/v1/leads/").status_code,
        "shared_lead_emails": [lead["email"] for lead in found],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.citus.scenario")
    commands = parser.add_subparsers(dest="command", required=True)
    month = commands.add_parser("month")
    month.add_argument("--subdomain", required=True)
    month.add_argument("--seed", type=int, required=True)
    month.add_argument("--now", required=True)
    month.add_argument("--leads", type=int, default=120)
    month.set_defaults(func=cmd_month)
    stream = commands.add_parser("stream")
    stream.add_argument("--subdomain", required=True)
    stream.add_argument("--now", required=True)
    stream.add_argument("--stop-file", required=True)
    stream.add_argument("--batch", type=int, default=20)
    stream.add_argument("--min-batches", type=int, default=3)
    stream.add_argument("--max-seconds", type=float, default=240)
    stream.set_defaults(func=cmd_stream)
    report = commands.add_parser("report")
    report.add_argument("--subdomain", required=True)
    report.add_argument("--now")
    report.add_argument("--counts-only", action="store_true")
    report.set_defaults(func=cmd_report)
    probe = commands.add_parser("probe")
    probe.add_argument("--subdomain", required=True)
    probe.add_argument("--other", required=True)
    probe.set_defaults(func=cmd_probe)
    args = parser.parse_args(argv)
    json.dump(args.func(args), sys.stdout, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
