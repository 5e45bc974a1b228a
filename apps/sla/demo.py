"""Demo SLA for Acme Analytics: a New York business calendar with US holidays, the domain
articles' sample SLA signed by both leaders and in force from 120 days ago (so the 90 days
of demo history are measured against it); v2, marketing's higher monthly MQL promise, signed
by both and in force from ten days ago (the month, the quarter and usually a week span v1 and v2,
each commitment scored once with both named); v3, marketing's next raise, signed by marketing
only and now outdated, because v4 — a high-intent tier drafted from v2 as well — was signed by
both leaders since and takes over next week.

Runs after the MQL demo (it relies on the published MQL definition) and before the leads
demo (whose MQLs open clocks under this SLA). Everything goes through the services.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

from apps.accounts.models import User
from apps.mql.models import DefinitionKind, DefinitionStatus, MqlDefinition
from apps.sla import services
from apps.sla.models import SlaVersion

SEED_AGENT = "Handoff demo seed"
DEMO_PASSWORD = "handoff-demo-2026"  # noqa: S105 - the published demo login (seed_demo.py)


def _user(email: str) -> User:
    return User.objects.get(email=email)


def seed(*, now: datetime, rng) -> None:
    if SlaVersion.objects.exists():
        return
    admin = _user("admin@acme.test")
    marketing = _user("marketing@acme.test")
    sales = _user("sales@acme.test")

    calendar = services.calendar_create(
        actor=admin,
        name="New York office",
        timezone_name="America/New_York",
        # A lunch break: two intervals a day (a split shift), eight working hours.
        week=[[["08:30", "12:30"], ["13:30", "17:30"]]] * 5 + [[], []],
        holiday_country="US",
        holiday_subdivision="NY",
        closed_dates=[f"{now.year}-12-24", f"{now.year}-12-31"],
        is_default=True,
    )
    definition = (
        MqlDefinition.objects.filter(kind=DefinitionKind.MQL, status=DefinitionStatus.PUBLISHED)
        .order_by("-version")
        .first()
    )
    if definition is None:
        sys.stderr.write("    no published MQL definition: the demo SLA is left unsigned\n")
    effective = (now - timedelta(days=120)).replace(hour=0, minute=0, second=0, microsecond=0)
    version = services.version_create(
        actor=marketing, template_key="sample_sla", effective_at=effective
    )
    services.version_update(
        version=version, actor=marketing, calendar=calendar, mql_definition=definition
    )
    if definition is None:
        return
    services.version_submit(version=version, actor=marketing)
    for leader in (sales, marketing):
        _sign(version, leader)

    # Ten days ago v2 took effect: marketing promised more MQLs for the new campaign season.
    raised = services.version_create(actor=marketing, from_version=version)
    volume = raised.commitments.get(metric="mql_volume")
    services.commitment_update(commitment=volume, actor=marketing, target=170, yellow_threshold=135)
    services.version_update(
        version=raised,
        actor=marketing,
        effective_at=(now - timedelta(days=10)).replace(hour=0, minute=0, second=0, microsecond=0),
        purpose=version.purpose + " From v2 on, marketing delivers 170 qualified leads a month.",
    )
    services.version_submit(version=raised, actor=marketing)
    for leader in (sales, marketing):
        _sign(raised, leader)
    version = raised

    # Marketing proposes a higher MQL volume target and signs it; sales has not yet...
    raise_volume = services.version_create(actor=marketing, from_version=version)
    volume = raise_volume.commitments.get(metric="mql_volume")
    services.commitment_update(
        commitment=volume,
        actor=marketing,
        target=volume.target + 30,
        yellow_threshold=volume.target,
    )
    services.version_update(
        version=raise_volume,
        actor=marketing,
        purpose=version.purpose + " Marketing commits to 30 more MQLs a month.",
    )
    services.version_submit(version=raise_volume, actor=marketing)
    _sign(raise_volume, marketing)

    # ... while both leaders agreed on a high-intent tier, drafted from v2 too and signed, in
    # force from next week. That makes v3 outdated: it can no longer be signed (its page says
    # so and shows what it would change against the version in force).
    amendment = services.version_create(actor=sales, from_version=version)
    tier = services.commitment_add(
        version=amendment,
        actor=sales,
        owner_team="sales",
        metric="first_contact_time",
        params={"hours": 2, "clock": "business"},
        target=0.9,
        yellow_threshold=0.8,
        review_period="week",
        segment=[{"field": "source", "op": "in", "value": ["webinar", "demo_request"]}],
        label="High-intent leads within 2 business hours",
    )
    services.escalation_rule_add(
        version=amendment, actor=sales, commitment=tier, threshold=0.8, periods=2
    )
    services.version_update(
        version=amendment,
        actor=marketing,
        effective_at=(now + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0),
        purpose=version.purpose
        + f" From v{amendment.number} on, leads who attended a webinar or asked for a demo get"
        " a faster response.",
    )
    services.version_submit(version=amendment, actor=sales)
    for leader in (marketing, sales):
        _sign(amendment, leader)


def _sign(version: SlaVersion, leader: User) -> None:
    services.version_sign(
        version=version,
        actor=leader,
        channel="web",
        password=DEMO_PASSWORD,
        content_hash=version.content_hash,
        ip_address="127.0.0.1",
        user_agent=SEED_AGENT,
    )


def _sign_by_both(version: SlaVersion, *, submitter: User, leaders: tuple[User, ...]) -> None:
    services.version_submit(version=version, actor=submitter)
    for leader in leaders:
        services.version_sign(
            version=version,
            actor=leader,
            channel="web",
            password=DEMO_PASSWORD,
            ip_address="127.0.0.1",
            user_agent=SEED_AGENT,
        )
