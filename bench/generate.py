"""Generate the benchmark organization: N leads with MQL events, SLA clocks, touches and dispositions.

    python bench/generate.py --leads 1000000 [--schema bench] [--days 100]

The definitions and the signed SLA come from the demo seeders (the product's own
services); the bulk facts are COPYed, with clock states computed the way
apps/sla/clocks.clocks_sync computes them, so the sweep and the dashboards
read realistic data.

No accidental qualifiers: the stored facts say what the pipeline would have decided.
Each MQL's lead fits the active definition and asked for a demo at its MQL moment (the
fact that qualified it); every other lead only read the blog, so it meets no definition
at any moment, and a new activity qualifies a lead only when that activity does. The
script checks it at the end with the qualification pre-filter (apps/mql/qualification_sql.py).
"""

import argparse
import random
import time
from datetime import timedelta

import _django  # noqa: F401  (Django set-up)
from bulkload import copy_objects, next_ids
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.compliance.facts import facts_rebuild
from apps.compliance.models import MqlEventFact
from apps.dispositions.models import Disposition, Outcome, ReasonCode
from apps.leads.models import Activity, Lead, RoutingRule, Stage
from apps.leads.owners import routing_rule_save
from apps.mql.models import MqlDefinition, MqlEvent
from apps.mql.qualification import requirements
from apps.mql.qualification_sql import requirements_sql
from apps.mql.selectors import definition_parsed
from apps.sla import business_time
from apps.sla.models import CLOCK_METRICS, ClockKind, ClockState, SlaClock, SlaVersion
from apps.sla.selectors import calendar_for_version
from apps.tenants.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS, demo_seeders
from apps.tenants.models import Organization
from apps.tenants.services import organization_create, public_tenant_ensure

SOURCES = [
    "webinar",
    "paid_search",
    "organic",
    "content_syndication",
    "events",
    "referral",
    "partner",
]
INDUSTRIES = ["software", "fintech", "healthcare", "retail", "manufacturing", "education", "media"]
COUNTRIES = ["US", "GB", "DE", "FR", "AU", "CA", "NL", "SE", "IN", "BR"]
KIND_FOR_METRIC = {
    "first_contact_time": ClockKind.FIRST_CONTACT,
    "follow_up_cadence": ClockKind.FOLLOW_UP,
    "disposition_time": ClockKind.DISPOSITION,
}
TOUCH_KINDS = ["call", "email_sent", "call", "email_sent", "meeting", "social"]


def organization(schema: str) -> Organization:
    public_tenant_ensure()
    org = Organization.objects.filter(schema_name=schema).first()
    if org:
        return org
    email, name, _ = DEMO_USERS[0]
    org = organization_create(
        name="Bench Corp",
        subdomain=schema,
        admin_name=name,
        admin_email=email,
        admin_password=DEMO_PASSWORD,
    )
    with schema_context(schema):
        for email, name, role in DEMO_USERS[1:]:
            user_create(email=email, name=name, role=role, password=DEMO_PASSWORD)
        for i in range(4, 21):
            user_create(
                email=f"rep{i}@acme.test", name=f"Rep {i}", role="rep", password=DEMO_PASSWORD
            )
        rng = random.Random(1)
        now = timezone.now()
        # Definitions, ICP and the signed SLA through the product's own services.
        for app_name, seed in demo_seeders():
            if app_name in {"apps.icp", "apps.mql", "apps.sla"}:
                seed(now=now, rng=rng)
    return org


def routing_ensure() -> None:
    """New MQLs are routed: round robin over every rep, through the product's own service."""
    if RoutingRule.objects.exists():
        return
    routing_rule_save(
        rule=None,
        name="Everyone",
        conditions=[],
        pool=list(User.objects.filter(role="rep").order_by("pk")),
        is_fallback=True,
        is_active=True,
        actor=User.objects.get(email="sales@acme.test"),
    )


def generate(*, leads: int, days: int, seed: int) -> dict:
    rng = random.Random(seed)
    now = timezone.now()
    start = now - timedelta(days=days)
    reps = list(User.objects.filter(role="rep").values_list("pk", flat=True))
    version = SlaVersion.objects.in_force_at(now).order_by("-effective_at").first()
    if version is None:
        raise SystemExit("no SLA in force: the sla demo seeder must have run")
    definition = MqlDefinition.objects.active().first()
    calendars = {
        "business": calendar_for_version(version),
        "calendar": calendar_for_version(version, mode=business_time.CALENDAR),
    }
    commitments = [c for c in version.commitments.all() if c.metric in CLOCK_METRICS]
    reasons = {
        o: list(ReasonCode.objects.filter(outcome=o).values_list("pk", flat=True))
        for o in ("rejected", "nurture")
    }

    lead_ids = next_ids(Lead, leads)
    lead_objs, event_objs, clock_objs, activity_objs, disposition_objs = [], [], [], [], []
    mql_leads = []
    span = (now - start).total_seconds()
    for i, pk in enumerate(lead_ids):
        created = start + timedelta(seconds=rng.random() * span)
        lead = Lead(
            pk=pk,
            external_id=f"B-{pk}",
            email=f"person{pk}@company{pk % 50000}.example",
            first_name="Pat",
            last_name=f"Lee{i}",
            title=rng.choice(
                ["VP Sales", "Director of IT", "Engineer", "CFO", "Analyst", "Head of Growth"]
            ),
            seniority=rng.choice(["vp", "director", "individual", "c_level", "manager"]),
            company=f"Company {pk % 50000}",
            company_size=rng.choice([20, 80, 250, 700, 2000, 8000]),
            industry=rng.choice(INDUSTRIES),
            country=rng.choice(COUNTRIES),
            source=rng.choice(SOURCES),
            campaign=f"campaign-{rng.randint(1, 40)}",
            created_at=created,
            stage_changed_at=created,
        )
        if rng.random() < 0.2 and created < now - timedelta(hours=1):
            # It qualified: it fits the definition (company size >= 50).
            lead.company_size = max(lead.company_size, rng.choice([80, 250, 700, 2000]))
            mql_at = created + timedelta(minutes=rng.randint(5, 600))
            if mql_at >= now:
                mql_at = now - timedelta(minutes=5)
            lead.mql_at = mql_at
            lead.stage = Stage.MQL
            lead.owner_id = rng.choice(reps)
            lead.assigned_at = mql_at + timedelta(seconds=rng.randint(1, 120))
            mql_leads.append(lead)
        lead_objs.append(lead)

    event_ids = next_ids(MqlEvent, len(mql_leads))
    for lead, event_id in zip(mql_leads, event_ids, strict=True):
        mql_at = lead.mql_at
        event_objs.append(
            MqlEvent(
                pk=event_id,
                lead_id=lead.pk,
                definition=definition,
                kind="mql",
                qualified_at=mql_at,
                score=55.0,
            )
        )
        # Touches: most leads get contacted, some late, some never.
        touches = []
        if rng.random() < 0.85:
            first = mql_at + timedelta(minutes=rng.expovariate(1 / 240))
            touches.append(first)
            for _ in range(rng.randint(0, 6)):
                touches.append(touches[-1] + timedelta(hours=rng.uniform(4, 60)))
        touches = [t for t in touches if t < now]
        for t in touches:
            activity_objs.append(
                Activity(
                    lead_id=lead.pk,
                    kind=rng.choice(TOUCH_KINDS),
                    family="sales_touch",
                    occurred_at=t,
                    actor_id=lead.owner_id,
                )
            )
        disposition_at = None
        if touches and rng.random() < 0.75:
            disposition_at = touches[-1] + timedelta(hours=rng.uniform(0.5, 40))
            if disposition_at < now:
                outcome = rng.choices(["accepted", "rejected", "nurture"], weights=[35, 45, 20])[0]
                reason = (
                    rng.choice(reasons[outcome])
                    if outcome != "accepted" and reasons.get(outcome) and rng.random() < 0.95
                    else None
                )
                disposition_objs.append(
                    Disposition(
                        lead_id=lead.pk,
                        mql_event_id=event_id,
                        outcome=outcome,
                        reason_code_id=reason,
                        actor_id=lead.owner_id,
                        occurred_at=disposition_at,
                        channel="csv",
                    )
                )
                lead.stage = {
                    "accepted": Stage.SQL,
                    "rejected": Stage.DISQUALIFIED,
                    "nurture": Stage.NURTURE,
                }[outcome]
                if outcome == Outcome.ACCEPTED:
                    lead.sql_at = disposition_at
                    if rng.random() < 0.4:
                        lead.stage = Stage.OPPORTUNITY
                        lead.opportunity_at = disposition_at + timedelta(days=rng.uniform(1, 10))
                        lead.amount = rng.choice([12000, 25000, 40000, 90000])
                        lead.expected_close = (now + timedelta(days=rng.randint(-30, 90))).date()
            else:
                disposition_at = None
        for commitment in commitments:
            params = commitment.params or {}
            if commitment.metric == "follow_up_cadence":
                due = mql_at + timedelta(days=int(params.get("days", 14)))
                needed = int(params.get("touches", 6))
                window = [t for t in touches if mql_at <= t <= due]
                met_at = (
                    window[needed - 1]
                    if len(window) >= needed
                    else (disposition_at if disposition_at and disposition_at <= due else None)
                )
            else:
                calendar = calendars[
                    "calendar" if params.get("clock") == "calendar" else "business"
                ]
                due = business_time.add(
                    calendar, mql_at, timedelta(hours=float(params.get("hours", 4)))
                )
                met_at = (
                    touches[0] if commitment.metric == "first_contact_time" and touches else None
                )
                if commitment.metric == "disposition_time":
                    met_at = disposition_at
            if met_at is not None:
                state = ClockState.MET if met_at <= due else ClockState.BREACHED
            else:
                state = ClockState.BREACHED if due < now else ClockState.PENDING
            clock_objs.append(
                SlaClock(
                    lead_id=lead.pk,
                    mql_event_id=event_id,
                    commitment=commitment,
                    sla_version=version,
                    kind=KIND_FOR_METRIC[commitment.metric],
                    started_at=mql_at,
                    due_at=due,
                    met_at=met_at,
                    breached_at=due
                    if state == ClockState.BREACHED and (met_at is None or met_at > due)
                    else None,
                    state=state,
                )
            )
    # One engagement activity per lead keeps the activities table realistic in size: the demo
    # request that made an MQL one (at its MQL moment), a blog read for every other lead.
    for lead in lead_objs:
        if lead.mql_at is not None:
            activity_objs.append(
                Activity(
                    lead_id=lead.pk,
                    kind="form_submit",
                    family="engagement",
                    occurred_at=lead.mql_at,
                    properties={"form": "demo-request"},
                )
            )
        else:
            activity_objs.append(
                Activity(
                    lead_id=lead.pk,
                    kind="page_view",
                    family="engagement",
                    occurred_at=lead.created_at,
                    properties={"url": f"/blog/post-{lead.pk % 40}"},
                )
            )
    for model, objs in (
        (Activity, activity_objs),
        (SlaClock, clock_objs),
        (Disposition, disposition_objs),
    ):
        for obj, pk in zip(objs, next_ids(model, len(objs)), strict=True):
            obj.pk = pk
            if model is Activity:
                obj.external_id = f"BA-{pk}"
    counts = {}
    for model, objs in (
        (Lead, lead_objs),
        (MqlEvent, event_objs),
        (Activity, activity_objs),
        (SlaClock, clock_objs),
        (Disposition, disposition_objs),
    ):
        t = time.perf_counter()
        counts[model.__name__] = copy_objects(model, objs)
        print(
            f"  {model.__name__:<12} {counts[model.__name__]:>9,} rows in {time.perf_counter() - t:6.1f} s",
            flush=True,
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    counts["could_qualify_without_having"] = accidental_qualifiers()
    return counts


def accidental_qualifiers() -> int:
    """Leads that never qualified but whose stored facts could meet an active definition
    (the SQL pre-filter of the MQL engine keeps them): the generator must leave none."""
    clauses, params = [], []
    for row in MqlDefinition.objects.filter(status="published"):
        parsed = definition_parsed(row)
        if parsed is not None:
            sql, values = requirements_sql(requirements(parsed))
            clauses.append(sql)
            params += values
    if not clauses:
        return 0
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT count(*) FROM {Lead._meta.db_table} l"  # noqa: S608 - table name from the model; values are parameters
            f" WHERE l.stage = 'lead' AND ({' OR '.join(clauses)})",
            params,
        )
        return cur.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--schema", default="bench")
    parser.add_argument(
        "--days",
        type=int,
        default=100,
        help="history span (the demo SLA is effective 120 days back)",
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    org = organization(args.schema)
    with schema_context(org.schema_name):
        stale = Lead.objects.exists() and accidental_qualifiers()
    if stale:
        # Made by an earlier generator that left leads meeting the definition without an MQL:
        # any new activity would qualify them, and the ingestion figures would lie.
        print(f"{org.schema_name}: {stale:,} leads could qualify without having; rebuilding it")
        org.delete(force_drop=True)
        org = organization(args.schema)
    with schema_context(org.schema_name):
        routing_ensure()
        existing = Lead.objects.count()
        if existing >= args.leads:
            print(f"{org.schema_name} already has {existing:,} leads")
        else:
            t = time.perf_counter()
            counts = generate(leads=args.leads - existing, days=args.days, seed=args.seed)
            print(f"generated {counts} in {time.perf_counter() - t:.0f} s")
            if counts["could_qualify_without_having"]:
                # The ingestion figures would count MQLs the measured batches did not cause.
                raise SystemExit(
                    f"{counts['could_qualify_without_having']:,} generated leads meet an active "
                    "definition without having qualified: fix bench/generate.py"
                )
        # The facts were COPYed past the hand-off pipeline, which keeps the per-MQL-event fact
        # table: build it from them the way an operator would after a restore.
        if MqlEventFact.objects.count() != MqlEvent.objects.count():
            t = time.perf_counter()
            written = facts_rebuild(now=timezone.now())
            print(f"fact table: {written:,} rows in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
