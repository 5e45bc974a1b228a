"""Demo ICP for Acme Analytics (a B2B analytics vendor): two revisions, the second approved by both leaders."""

from datetime import timedelta

from apps.accounts.models import User
from apps.icp.models import IcpApproval, IcpRevision
from apps.icp.services import icp_revision_approve, icp_revision_create

PERSONAS = [
    {
        "role": "VP Data / Head of Analytics",
        "goals": "One trusted number per KPI; fewer ad-hoc requests; a team that ships insight, not extracts.",
        "pains": "Dashboards nobody trusts, three versions of revenue, analysts stuck on plumbing.",
        "objections": "“We already pay for a BI tool.” “Migration will take a quarter.”",
    },
    {
        "role": "CFO / Finance leader",
        "goals": "Board-ready numbers on day 2 of the close; forecast that holds.",
        "pains": "Month-end spreadsheets stitched by hand; late surprises in the pipeline.",
        "objections": "“Show me the ROI in the first two quarters.”",
    },
    {
        "role": "Analytics engineer (champion)",
        "goals": "Version-controlled models, tests, lineage; no more broken dashboards on Monday.",
        "pains": "Brittle pipelines, no tests, every change breaks a report somewhere.",
        "objections": "“Will it work with our dbt project and Snowflake?”",
    },
]


def seed(*, now, rng) -> None:
    marketing = User.objects.get(email="marketing@acme.test")
    sales = User.objects.get(email="sales@acme.test")
    first = icp_revision_create(
        author=marketing,
        criteria={
            "employee_min": 500,
            "employee_max": 5000,
            "industries": ["Software", "Fintech"],
            "regions": ["US", "GB"],
            "seniorities": ["vp", "c_level"],
        },
        triggers=["Series B or later funding round", "New VP Data or CDO hired"],
        pains=["We spend the first week of every month reconciling numbers."],
        watering_holes=["dbt Community Slack", "Snowflake Summit"],
        personas=PERSONAS[:1],
        summary="First draft from the marketing offsite.",
    )
    second = icp_revision_create(
        author=sales,
        criteria={
            "employee_min": 200,
            "employee_max": 5000,
            "revenue_min": 20_000_000,
            "industries": ["Software", "Fintech", "Healthcare", "Retail"],
            "regions": ["US", "GB", "DE", "AU", "CA", "NL", "IE"],
            "technologies": ["Snowflake", "dbt", "BigQuery", "Looker"],
            "seniorities": ["director", "vp", "c_level"],
        },
        triggers=[
            "Series B or later funding round",
            "New VP Data, CDO or CFO hired",
            "Migration to a cloud data warehouse announced",
            "IPO preparation or first audit",
        ],
        pains=[
            "We spend the first week of every month reconciling numbers.",
            "Every team has its own definition of an active customer.",
            "Our analysts are a help desk for CSV exports.",
            "The board asked for cohort retention and it took us three weeks.",
        ],
        watering_holes=[
            "dbt Community Slack",
            "Snowflake Summit and Data Council",
            "Locally Optimistic newsletter",
            "r/dataengineering",
        ],
        personas=PERSONAS,
        summary="Won deals show 200–500 employee companies and healthcare/retail close fastest: widened.",
    )
    for revision, age_days in ((first, 120), (second, 95)):
        IcpRevision.objects.filter(pk=revision.pk).update(created_at=now - timedelta(days=age_days))
        for leader, delay in ((marketing, 1), (sales, 2)):
            approval = icp_revision_approve(revision=revision, approver=leader)
            IcpApproval.objects.filter(pk=approval.pk).update(
                approved_at=now - timedelta(days=age_days - delay, hours=rng.randint(1, 8))
            )
