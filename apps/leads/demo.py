"""Demo leads for Acme Analytics: 90 days of leads and their behaviour, replayed as live.

Everything goes through the hand-off channels (apps/handoff/channels.py, channel
"system"): routing rules first, then the leads and activities in chronological 12-hour
batches, so the MQL engine qualifies leads, routes them and opens SLA clocks batch by
batch as it would have in production. Each batch is handed the end of its window as
`now`: assignments are stamped when the lead would really have been routed, not at
seeding time.

Intent is what makes a lead interesting: about a quarter of the leads look at
pricing, some ask for a demo or download the enterprise ebook (the signals of the
demo MQL definition), the rest only open emails and read the blog. A few trial
teams produce product events (the PQL). Some MQLs older than a month become
opportunities, won or lost, with amounts (as a CRM sync would report them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apps.accounts.models import User
from apps.handoff.channels import activities_ingest, leads_upsert
from apps.leads import owners
from apps.leads.models import Lead, RoutingRule, Stage

DAYS = 90
LEADS = 2100  # about 150 MQLs a month: the demo SLA's volume target
BATCH = timedelta(hours=12)

SOURCES = {
    # source: (weight, campaigns)
    "webinar": (
        16,
        ["Webinar: Forecasting without spreadsheets", "Webinar: RevOps metrics that matter"],
    ),
    "paid_search": (
        22,
        ["Google Ads – brand", "Google Ads – competitor terms", "LinkedIn Ads – CFO persona"],
    ),
    "organic": (22, ["SEO – blog", "SEO – comparison pages"]),
    "content_syndication": (
        14,
        ["Integrate – enterprise ebook", "TechTarget – State of Analytics 2025"],
    ),
    "events": (10, ["SaaStr Annual booth", "Snowflake Summit meetups"]),
    "referral": (8, ["Customer referral program"]),
    "partner": (8, ["Partner: dbt Labs co-marketing", "Partner: Snowflake marketplace"]),
}
SIZE_BANDS = [
    ((1, 10), 10),
    ((11, 49), 20),
    ((50, 199), 28),
    ((200, 499), 20),
    ((500, 1999), 14),
    ((2000, 12000), 8),
]
INDUSTRIES = [
    ("Software", 24),
    ("Fintech", 12),
    ("Financial Services", 10),
    ("Healthcare", 10),
    ("Retail", 10),
    ("Manufacturing", 9),
    ("Education", 6),
    ("Media", 6),
    ("Logistics", 7),
    ("Telecommunications", 6),
]
COUNTRIES = [
    ("US", 36),
    ("CA", 5),
    ("GB", 10),
    ("DE", 8),
    ("FR", 5),
    ("NL", 4),
    ("IE", 2),
    ("ES", 3),
    ("SE", 3),
    ("AU", 5),
    ("SG", 3),
    ("IN", 5),
    ("JP", 3),
    ("BR", 5),
    ("MX", 3),
]
TITLES = [
    (["CEO", "CFO", "Chief Data Officer", "Co-Founder", "COO"], 8),
    (["VP Finance", "VP Marketing", "VP Sales Operations", "VP of Data", "SVP Analytics"], 12),
    (["Director of FP&A", "Head of Analytics", "Director, Revenue Operations", "Head of BI"], 20),
    (["Analytics Manager", "Marketing Manager", "Sales Ops Manager", "Data Team Lead"], 25),
    (["Data Analyst", "Financial Analyst", "BI Developer", "Marketing Specialist", "Analytics Engineer", "MBA Student"], 35),
]  # fmt: skip
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Vera",
    "Wei",
    "Yara",
    "Zoe",
]
LAST_NAMES = [
    "Silva",
    "Becker",
    "Dubois",
    "Nakamura",
    "Okafor",
    "Larsen",
    "Novak",
    "Rossi",
    "Haddad",
    "Kim",
    "Moreau",
    "Jensen",
    "Costa",
    "Walsh",
    "Schmidt",
    "Tanaka",
    "Evans",
    "Garcia",
    "Ito",
    "Lund",
]
COMPANY_WORDS = (
    [
        "North",
        "Blue",
        "Bright",
        "Iron",
        "Clear",
        "Summit",
        "Harbor",
        "Quantum",
        "Cedar",
        "Atlas",
        "Nova",
        "Vertex",
        "Lumen",
        "Pioneer",
        "Orbit",
        "Silver",
    ],
    [
        "Analytics",
        "Logistics",
        "Health",
        "Retail",
        "Systems",
        "Labs",
        "Capital",
        "Foods",
        "Media",
        "Works",
        "Energy",
        "Robotics",
        "Partners",
        "Bank",
    ],
)
FREE_EMAIL = ["gmail.com", "outlook.com", "yahoo.com"]
BLOG = [
    "/blog/metrics-layer",
    "/blog/forecast-accuracy",
    "/blog/dbt-semantic-layer",
    "/product/dashboards",
    "/customers",
]
SYNDICATED_ASSET = {"Integrate – enterprise ebook": "enterprise-ebook", "TechTarget – State of Analytics 2025": "state-of-analytics-report"}  # fmt: skip


def _pick(rng, weighted):
    values = [v for v, _ in weighted]
    return rng.choices(values, weights=[w for _, w in weighted])[0]


@dataclass
class _Plan:
    leads: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    activities: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)


def _business_moment(rng, day: datetime) -> datetime:
    """A moment on a working day, mostly in working hours (US Eastern-ish, in UTC)."""
    while day.weekday() >= 5 and rng.random() < 0.8:
        day += timedelta(days=1)
    return day.replace(
        hour=rng.randint(12, 22),
        minute=rng.randint(0, 59),
        second=rng.randint(0, 59),
        microsecond=0,
    )


def _plan(*, now: datetime, rng) -> _Plan:
    plan = _Plan()
    start = now - timedelta(days=DAYS)
    source_table = [(s, w) for s, (w, _) in SOURCES.items()]
    for n in range(LEADS):
        created = _business_moment(rng, start + timedelta(days=rng.random() * DAYS))
        if created >= now:
            created = now - timedelta(minutes=rng.randint(5, 600))
        source = _pick(rng, source_table)
        campaign = rng.choice(SOURCES[source][1])
        low, high = _pick(rng, SIZE_BANDS)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = f"{rng.choice(COMPANY_WORDS[0])} {rng.choice(COMPANY_WORDS[1])}"
        domain = company.lower().replace(" ", "") + ".example"
        mail_domain = rng.choice(FREE_EMAIL) if rng.random() < 0.1 else domain
        external_id = f"00Q{n + 1:012d}"
        plan.leads.append(
            (
                created,
                {
                    "external_id": external_id,
                    "email": f"{first}.{last}{n}@{mail_domain}".lower(),
                    "first_name": first,
                    "last_name": last,
                    "title": rng.choice(_pick(rng, [(t, w) for t, w in TITLES])),
                    "company": company,
                    "company_domain": domain,
                    "company_size": rng.randint(low, high),
                    "annual_revenue": rng.randint(low, high) * rng.randint(80, 250) * 1000,
                    "industry": _pick(rng, INDUSTRIES),
                    "country": _pick(rng, COUNTRIES),
                    "source": source,
                    "campaign": campaign,
                    "created_at": created,
                },
            )
        )
        _plan_activities(plan, rng, external_id, source, campaign, created, now)
    return plan


def _plan_activities(
    plan: _Plan, rng, lead: str, source: str, campaign: str, created: datetime, now: datetime
) -> None:
    count = 0

    def add(kind: str, at: datetime, **properties) -> None:
        nonlocal count
        if at < now - timedelta(minutes=1):
            count += 1
            plan.activities.append(
                (
                    at,
                    {
                        "external_id": f"{lead}-a{count}",
                        "lead": lead,
                        "kind": kind,
                        "occurred_at": at,
                        "properties": {"campaign": campaign, **properties},
                    },
                )
            )

    # First touch: how the lead came in.
    if source == "webinar":
        add("webinar_registered", created, webinar=campaign)
        if rng.random() < 0.55:
            add(
                "webinar_attended",
                created + timedelta(days=rng.randint(2, 9), hours=1),
                webinar=campaign,
            )
    elif source == "content_syndication":
        add(
            "content_download",
            created,
            asset=SYNDICATED_ASSET.get(campaign, "state-of-analytics-report"),
        )
    elif source == "paid_search":
        add("page_view", created, url="https://acme.example/lp/analytics-platform")
        add(
            "form_submit",
            created + timedelta(minutes=2),
            form="trial-signup" if rng.random() < 0.3 else "contact-us",
        )
    elif source == "organic":
        add("page_view", created, url=f"https://acme.example{rng.choice(BLOG)}")
        add("form_submit", created + timedelta(minutes=3), form="newsletter")
    elif source == "events":
        add("form_submit", created, form="event-badge-scan", event=campaign)
    else:
        add("form_submit", created, form="contact-us")

    # Nurture: emails and blog reads over the following weeks.
    for _ in range(rng.randint(0, 4)):
        at = created + timedelta(days=rng.uniform(1, 45))
        add("email_open", at, email="Monthly product digest")
        if rng.random() < 0.4:
            add(
                "email_click",
                at + timedelta(minutes=rng.randint(1, 30)),
                email="Monthly product digest",
            )
    for _ in range(rng.randint(0, 3)):
        add(
            "page_view",
            created + timedelta(days=rng.uniform(0.5, 40)),
            url=f"https://acme.example{rng.choice(BLOG)}",
        )

    # Buying signals: the ones the MQL definition looks for.
    intent = rng.random()
    if intent < 0.27:
        first = created + timedelta(days=rng.uniform(0.2, 30))
        for visit in range(rng.randint(1, 3)):
            add(
                "page_view",
                first + timedelta(days=visit * rng.uniform(0.5, 4)),
                url="https://acme.example/pricing",
            )
    if intent < 0.10:
        add("form_submit", created + timedelta(days=rng.uniform(0.5, 35)), form="demo-request")
    if 0.10 <= intent < 0.20 and source != "content_syndication":
        add(
            "content_download",
            created + timedelta(days=rng.uniform(1, 30)),
            asset="enterprise-ebook",
        )
    # A few trial teams light up the product (the PQL).
    if source == "paid_search" and rng.random() < 0.12:
        start = created + timedelta(days=rng.uniform(0.5, 5))
        for k in range(rng.randint(2, 5)):
            add(
                "product_event",
                start + timedelta(days=k * rng.uniform(0.5, 3)),
                event="teammate_invited",
            )
        for k in range(rng.randint(0, 2)):
            add("product_event", start + timedelta(days=1 + k), event="integration_connected")


def _routing_rules() -> None:
    if RoutingRule.objects.exists():
        return
    people = {
        u.email: u
        for u in User.objects.filter(
            email__in=["sales@acme.test", "rep1@acme.test", "rep2@acme.test", "rep3@acme.test"]
        )
    }
    leader = people["sales@acme.test"]
    reps = [people[f"rep{n}@acme.test"] for n in (1, 2, 3)]
    owners.routing_rule_save(
        rule=None,
        name="Enterprise (500+ employees)",
        conditions=[{"field": "company_size", "op": "gte", "value": 500}],
        pool=reps[:2],
        is_fallback=False,
        is_active=True,
        actor=leader,
    )
    owners.routing_rule_save(
        rule=None,
        name="EMEA",
        conditions=[{"field": "region", "op": "equals", "value": "EMEA"}],
        pool=reps[2:],
        is_fallback=False,
        is_active=True,
        actor=leader,
    )
    owners.routing_rule_save(
        rule=None,
        name="Everyone else",
        conditions=[],
        pool=reps,
        is_fallback=True,
        is_active=True,
        actor=leader,
    )


def _opportunities(*, now: datetime, rng) -> None:
    """Some MQLs older than a month move on, as the CRM reports it: SQL, opportunity, won or lost."""
    candidates = list(
        Lead.objects.filter(
            stage=Stage.MQL, mql_at__lt=now - timedelta(days=30), owner__isnull=False
        )
        .select_related("owner")
        .order_by("mql_at")
    )
    chosen = rng.sample(candidates, k=min(len(candidates), max(6, len(candidates) // 5)))
    touches, to_sql, to_opportunity, to_closed = [], [], [], []
    for lead in chosen:
        met = lead.mql_at + timedelta(hours=rng.uniform(2, 40))
        touches.append(
            {
                "external_id": f"{lead.external_id}-meeting",
                "lead": lead.external_id,
                "kind": "meeting",
                "occurred_at": met,
                "actor": lead.owner.email,
                "properties": {"subject": "Discovery call"},
            }
        )
        sql_at = met + timedelta(hours=rng.uniform(1, 24))
        to_sql.append({"external_id": lead.external_id, "stage": "sql", "stage_changed_at": sql_at})
        opportunity_at = sql_at + timedelta(days=rng.uniform(3, 10))
        amount = rng.choice([12, 18, 24, 36, 48, 60, 90, 120]) * 1000
        to_opportunity.append(
            {
                "external_id": lead.external_id,
                "stage": "opportunity",
                "stage_changed_at": opportunity_at,
                "amount": amount,
                "expected_close": (opportunity_at + timedelta(days=rng.randint(30, 75))).date(),
            }
        )
        closed_at = opportunity_at + timedelta(days=rng.uniform(12, 40))
        if closed_at < now and rng.random() < 0.7:
            to_closed.append(
                {
                    "external_id": lead.external_id,
                    # Four of every nine closed deals are won, the first one included, so
                    # every seed (whatever the day or the random draw) has wins and losses.
                    "stage": "won" if len(to_closed) % 9 < 4 else "lost",
                    "stage_changed_at": closed_at,
                }
            )
    activities_ingest(items=touches, channel="system", actor=None, now=now)
    for batch in (to_sql, to_opportunity, to_closed):
        if batch:
            leads_upsert(items=batch, channel="system", actor=None, now=now)


def seed(*, now: datetime, rng) -> None:
    if Lead.objects.exists():
        return
    _routing_rules()
    plan = _plan(now=now, rng=rng)
    plan.leads.sort(key=lambda pair: pair[0])
    plan.activities.sort(key=lambda pair: pair[0])
    window_end = now - timedelta(days=DAYS) + BATCH
    lead_at = activity_at = 0
    while lead_at < len(plan.leads) or activity_at < len(plan.activities):
        batch_now = min(window_end, now)  # as if each batch arrived at the end of its window
        leads = []
        while lead_at < len(plan.leads) and plan.leads[lead_at][0] < window_end:
            leads.append(plan.leads[lead_at][1])
            lead_at += 1
        activities = []
        while activity_at < len(plan.activities) and plan.activities[activity_at][0] < window_end:
            activities.append(plan.activities[activity_at][1])
            activity_at += 1
        if leads:
            leads_upsert(items=leads, channel="system", actor=None, now=batch_now)
        if activities:
            activities_ingest(items=activities, channel="system", actor=None, now=batch_now)
        window_end += BATCH
    _opportunities(now=now, rng=rng)
