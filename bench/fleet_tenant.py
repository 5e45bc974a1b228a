"""The Django side of the fleet benchmark (bench/fleet.py runs it against each database).

    python bench/fleet_tenant.py setup  --first 0 --count 50 [--small-leads 200]
    python bench/fleet_tenant.py big    --leads 100000
    python bench/fleet_tenant.py arm    --per-org 2            # fresh MQLs through the API
    python bench/fleet_tenant.py due    --at EPOCH --spread 60  # their first-contact clocks fall due
    python bench/fleet_tenant.py collect --since EPOCH
    python bench/fleet_tenant.py active --big on|off
    python bench/fleet_tenant.py warm                       # a first sweep where there was none

Each command prints one JSON object on stdout. Organizations are made by the product's own
organization_create and demo seeders (signed SLA, published MQL definition); their history is
COPYed by bench/generate.py; the leads that fall due during the measurement arrive through the
HTTP API, so qualification and clock opening are the product's.
"""

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta

import _django  # noqa: F401  (Django set-up)
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from generate import generate

from apps.accounts.models import User
from apps.accounts.services import api_key_create, user_create
from apps.compliance.models import Alert, SweepRun
from apps.compliance.services import tenant_sweep
from apps.leads.models import Lead
from apps.sla.models import SlaClock
from apps.tenants.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS, demo_seeders
from apps.tenants.models import Organization
from apps.tenants.services import organization_create, public_tenant_ensure

BIG = "fleetbig"
SETUP_SEEDERS = ("apps.icp", "apps.mql", "apps.sla")
ARMED_PREFIX = "fleet-armed-"
# Benchmark set-up only: real password hashing costs ~0.3 s a user and is not what is measured.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def small_schema(index: int) -> str:
    return f"fleet{index:03d}"


def organization(schema: str, *, leads: int, days: int, seed: int) -> dict:
    """One organization with the demo users, definitions, signed SLA and `leads` of history."""
    public_tenant_ensure()
    org = Organization.objects.filter(schema_name=schema).first()
    if org is None:
        email, name, _ = DEMO_USERS[0]
        org = organization_create(
            name=f"Fleet {schema}",
            subdomain=schema,
            admin_name=name,
            admin_email=email,
            admin_password=DEMO_PASSWORD,
        )
    with schema_context(org.schema_name):
        if not User.objects.filter(email=DEMO_USERS[1][0]).exists():
            for email, name, role in DEMO_USERS[1:]:
                user_create(email=email, name=name, role=role, password=DEMO_PASSWORD)
            rng = random.Random(seed)
            now = timezone.now()
            for app_name, seed_app in demo_seeders():
                if app_name in SETUP_SEEDERS:
                    seed_app(now=now, rng=rng)
        existing = Lead.objects.exclude(external_id__startswith=ARMED_PREFIX).count()
        if existing < leads:
            generate(leads=leads - existing, days=days, seed=seed + existing)
        return {"schema": schema, "leads": Lead.objects.count()}


def cmd_setup(args) -> dict:
    made = [
        organization(small_schema(i), leads=args.small_leads, days=30, seed=i)
        for i in range(args.first, args.first + args.count)
    ]
    return {"organizations": len(made)}


def cmd_big(args) -> dict:
    return organization(BIG, leads=args.leads, days=100, seed=11)


def fleet() -> list[Organization]:
    return list(
        Organization.objects.filter(schema_name__startswith="fleet").order_by("schema_name")
    )


def cmd_arm(args) -> dict:
    """Each organization gets `per_org` new leads whose buying signal makes them MQLs now."""
    now = timezone.now()
    armed = 0
    for org in fleet():
        with schema_context(org.schema_name):
            _key, token = api_key_create(name="fleet benchmark", created_by=None)
        client = Client(
            HTTP_HOST=f"{org.subdomain}.{settings.BASE_DOMAIN}",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        stamp = int(now.timestamp())
        leads = [
            {
                "external_id": f"{ARMED_PREFIX}{stamp}-{i}",
                "email": f"armed{stamp}x{i}@fleetco.example",
                "company": "Fleetco",
                "company_size": 250,
            }
            for i in range(args.per_org)
        ]
        signals = [
            {
                "external_id": f"{lead['external_id']}-A{n}",
                "lead": lead["external_id"],
                "kind": kind,
                "occurred_at": (now - timedelta(minutes=2 - n)).isoformat(),
                "properties": properties,
            }
            for lead in leads
            for n, (kind, properties) in enumerate(
                (("page_view", {"url": "/pricing"}), ("form_submit", {"form": "demo-request"}))
            )
        ]
        for path, items in (
            ("/api/v1/leads/upsert/", leads),
            ("/api/v1/activities/ingest/", signals),
        ):
            response = client.post(
                path, json.dumps({"items": items}), content_type="application/json"
            )
            if response.status_code >= 300:
                raise SystemExit(
                    f"{org.schema_name} {path}: {response.status_code} {response.content[:500]!r}"
                )
        armed += len(leads)
    return {"armed_leads": armed}


def armed_clocks():
    return SlaClock.objects.filter(
        lead__external_id__startswith=ARMED_PREFIX, kind="first_contact", state="pending"
    )


def cmd_due(args) -> dict:
    """Move the armed first-contact clocks' due times to `at` + [0, spread) s, spread evenly."""
    start = datetime.fromtimestamp(args.at, tz=UTC)
    orgs = fleet()
    total = 0
    for position, org in enumerate(orgs):
        with schema_context(org.schema_name):
            clocks = list(armed_clocks())
            for clock in clocks:
                clock.due_at = start + timedelta(seconds=args.spread * position / len(orgs))
            SlaClock.objects.bulk_update(clocks, ["due_at"])
            total += len(clocks)
    return {"clocks": total, "organizations": len(orgs)}


def cmd_collect(args) -> dict:
    """Per organization: the armed clocks' breach lags; and the sweep runs since `since`."""
    since = datetime.fromtimestamp(args.since, tz=UTC)
    per_org, runs = {}, []
    for org in fleet():
        with schema_context(org.schema_name):
            clocks = {
                clock.pk: clock.due_at
                for clock in SlaClock.objects.filter(
                    lead__external_id__startswith=ARMED_PREFIX,
                    kind="first_contact",
                    due_at__gte=since,
                )
            }
            alerts = {}
            for clock_id, created in Alert.objects.filter(
                clock_id__in=clocks, kind="breach"
            ).values_list("clock_id", "created_at"):
                alerts[clock_id] = min(created, alerts.get(clock_id, created))
            lags = [
                (alerts[pk] - due).total_seconds() for pk, due in clocks.items() if pk in alerts
            ]
            per_org[org.schema_name] = {
                "clocks": len(clocks),
                "alerted": len(lags),
                "max_lag_s": round(max(lags), 2) if lags else None,
                "active": org.is_active,
            }
            runs += [
                {
                    "schema": run.schema_name,
                    "started": run.started_at.timestamp(),
                    "finished": run.finished_at.timestamp() if run.finished_at else None,
                    "worker": run.worker,
                }
                for run in SweepRun.objects.filter(
                    started_at__gte=since, schema_name=org.schema_name
                )
            ]
    return {"organizations": per_org, "runs": runs}


def cmd_warm(args) -> dict:
    """One sweep for every organization never swept: its first computes the snapshots of its whole
    history, which a running fleet did long ago; measuring that first round would measure set-up."""
    swept = 0
    for org in fleet():
        with schema_context(org.schema_name):
            if not SweepRun.objects.exists():
                tenant_sweep(worker="fleet-warm-up")
                swept += 1
    return {"swept": swept}


def cmd_active(args) -> dict:
    updated = Organization.objects.filter(schema_name=BIG).update(is_active=args.big == "on")
    return {"big_active": args.big == "on", "updated": updated}


def cmd_status(args) -> dict:
    orgs = fleet()
    sizes = {}
    for org in orgs:
        if org.schema_name == BIG:
            with schema_context(org.schema_name):
                sizes[BIG] = Lead.objects.count()
    return {"organizations": len(orgs), "big_leads": sizes.get(BIG, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    setup = commands.add_parser("setup")
    setup.add_argument("--first", type=int, required=True)
    setup.add_argument("--count", type=int, required=True)
    setup.add_argument("--small-leads", type=int, default=200)
    setup.set_defaults(func=cmd_setup)
    big = commands.add_parser("big")
    big.add_argument("--leads", type=int, default=100_000)
    big.set_defaults(func=cmd_big)
    arm = commands.add_parser("arm")
    arm.add_argument("--per-org", type=int, default=2)
    arm.set_defaults(func=cmd_arm)
    due = commands.add_parser("due")
    due.add_argument("--at", type=float, required=True)
    due.add_argument("--spread", type=float, default=60)
    due.set_defaults(func=cmd_due)
    collect = commands.add_parser("collect")
    collect.add_argument("--since", type=float, required=True)
    collect.set_defaults(func=cmd_collect)
    active = commands.add_parser("active")
    active.add_argument("--big", choices=["on", "off"], required=True)
    active.set_defaults(func=cmd_active)
    commands.add_parser("status").set_defaults(func=cmd_status)
    commands.add_parser("warm").set_defaults(func=cmd_warm)
    args = parser.parse_args()
    result = args.func(args)
    sys.stdout.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
