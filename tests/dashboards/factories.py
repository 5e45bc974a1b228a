"""A small, fully known dataset for the dashboards: an SLA, reps, last week's MQL cohort with
clocks, touches and dispositions, and some pipeline — written straight through the ORM
so every number the dashboards show can be predicted by hand."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Max
from django.utils import timezone

from apps.accounts.models import User
from apps.compliance.facts import facts_refresh
from apps.compliance.periods import Period, PeriodKind, period_for, previous
from apps.dispositions.models import Disposition, ReasonCode
from apps.leads.models import Activity, Lead
from apps.mql.models import DefinitionStatus, MqlDefinition, MqlEvent
from apps.sla import business_time
from apps.sla.models import ClockState, Commitment, SlaClock, SlaContract, SlaVersion, VersionStatus
from apps.sla.snapshots import NINE_TO_FIVE_WEEK, calendar_from_json, calendar_json

_seq = itertools.count(1)

TZ = "UTC"

COMMITMENTS = [
    {
        "owner_team": "sales",
        "metric": "first_contact_time",
        "params": {"hours": 4, "clock": "business"},
        "target": 0.9,
        "yellow_threshold": 0.8,
    },
    {
        "owner_team": "sales",
        "metric": "disposition_time",
        "params": {"hours": 72, "clock": "calendar"},
        "target": 0.5,
        "yellow_threshold": 0.3,
    },
    {
        "owner_team": "sales",
        "metric": "rejection_reason_coverage",
        "params": {},
        "target": 0.9,
        "yellow_threshold": 0.6,
    },
    {
        "owner_team": "marketing",
        "metric": "mql_volume",
        "params": {},
        "target": 8,
        "yellow_threshold": 6,
    },
    {
        "owner_team": "marketing",
        "metric": "mql_to_sql_rate",
        "params": {},
        "target": 0.25,
        "yellow_threshold": 0.2,
    },
    {
        "owner_team": "shared",
        "metric": "pipeline_coverage",
        "params": {"revenue_target": 100000},
        "target": 3.0,
        "yellow_threshold": 2.0,
        "review_period": "quarter",
    },
]


def user(role: str = "rep", name: str | None = None) -> User:
    n = next(_seq)
    return User.objects.create_user(
        email=f"dash{n}@acme.test", name=name or f"Person {n}", role=role, password=None
    )


def definition() -> MqlDefinition:
    # The next free version number: other apps' tests may leave definitions behind.
    latest = MqlDefinition.objects.filter(kind="mql").aggregate(top=Max("version"))["top"] or 0
    return MqlDefinition.objects.create(
        version=latest + 1, name=f"Def {latest + 1}", status=DefinitionStatus.RETIRED, rules={}
    )


def signed_version(
    *,
    effective_at: datetime,
    commitments=COMMITMENTS,
    tz: str = TZ,
    replaces: SlaVersion | None = None,
) -> SlaVersion:
    """A signed version; with ``replaces``, the next version of its contract, in force from
    ``effective_at`` on (the replaced one superseded then, as signing does)."""
    contract = replaces.contract if replaces else SlaContract.objects.create(name="Dashboards SLA")
    if replaces is not None:
        SlaVersion.objects.filter(pk=replaces.pk).update(
            status=VersionStatus.SUPERSEDED, superseded_at=effective_at
        )
        replaces.refresh_from_db()
    version = SlaVersion.objects.create(
        contract=contract,
        number=replaces.number + 1 if replaces else 1,
        calendar_snapshot=calendar_json(name="Office", timezone=tz, week=NINE_TO_FIVE_WEEK),
        effective_at=effective_at,
        mql_definition=definition(),
    )
    for position, values in enumerate(commitments):
        Commitment.objects.create(version=version, position=position, **values)
    SlaVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.ACTIVE, activated_at=effective_at
    )
    version.refresh_from_db()
    return version


def reason(label: str) -> ReasonCode:
    found, _ = ReasonCode.objects.get_or_create(outcome="rejected", label=label)
    return found


def mql_lead(
    *,
    version: SlaVersion,
    mql_at: datetime,
    owner: User | None = None,
    source: str = "webinar",
    campaign: str = "Spring webinar",
    first_touch: datetime | None = None,
    touches: int = 1,
    sql_at: datetime | None = None,
    rejected_at: datetime | None = None,
    rejection_reason: ReasonCode | None = None,
    stage: str | None = None,
    amount: Decimal | None = None,
    expected_close=None,
    opportunity_at: datetime | None = None,
    closed_at: datetime | None = None,
) -> Lead:
    """An MQL with its event, first-contact and disposition clocks, touches and dispositions."""
    n = next(_seq)
    lead = Lead.objects.create(
        external_id=f"dash-{n}",
        email=f"lead{n}@prospect.test",
        first_name="Lead",
        last_name=str(n),
        company=f"Company {n}",
        source=source,
        campaign=campaign,
        owner=owner,
        assigned_at=mql_at if owner else None,
        stage=stage or ("sql" if sql_at else "disqualified" if rejected_at else "mql"),
        mql_at=mql_at,
        sql_at=sql_at,
        opportunity_at=opportunity_at,
        closed_at=closed_at,
        amount=amount,
        expected_close=expected_close,
        created_at=mql_at - timedelta(days=2),
    )
    event = MqlEvent.objects.create(
        lead=lead, definition=version.mql_definition, qualified_at=mql_at
    )
    for i in range(touches if first_touch else 0):
        Activity.objects.create(
            lead=lead,
            kind="call",
            family="sales_touch",
            occurred_at=first_touch + timedelta(hours=i),
            external_id=f"dash-act-{n}-{i}",
            actor=owner,
        )
    calendar = calendar_from_json(version.calendar_snapshot)
    commitments = {c.metric: c for c in version.commitments.all()}
    first_contact = commitments.get("first_contact_time")
    now = timezone.now()
    if first_contact:
        due = business_time.add(calendar, mql_at, timedelta(hours=4))
        _clock(lead, event, first_contact, "first_contact", mql_at, due, first_touch, now)
    dispo = commitments.get("disposition_time")
    final_at = sql_at or rejected_at
    if dispo:
        due = mql_at + timedelta(hours=72)
        _clock(lead, event, dispo, "disposition", mql_at, due, final_at, now)
    if sql_at:
        Disposition.objects.create(
            lead=lead, mql_event=event, outcome="accepted", occurred_at=sql_at, actor=owner
        )
    if rejected_at:
        Disposition.objects.create(
            lead=lead,
            mql_event=event,
            outcome="rejected",
            reason_code=rejection_reason,
            note="Not the buyer",
            occurred_at=rejected_at,
            actor=owner,
        )
    # Written as raw rows: keep the fact table current as the hand-off pipeline does.
    facts_refresh(lead_ids=[lead.pk], now=now)
    return lead


def _clock(lead, event, commitment, kind, started, due, met_at, now) -> SlaClock:
    if met_at is not None and met_at <= now:
        state = ClockState.MET if met_at <= due else ClockState.BREACHED
    else:
        met_at = None
        state = ClockState.BREACHED if due < now else ClockState.PENDING
    return SlaClock.objects.create(
        lead=lead,
        mql_event=event,
        commitment=commitment,
        sla_version=commitment.version,
        kind=kind,
        started_at=started,
        due_at=due,
        met_at=met_at,
        breached_at=due if state == ClockState.BREACHED else None,
        state=state,
    )


@dataclass
class Dataset:
    now: datetime
    week: Period  # last week: the period every number below is about
    version: SlaVersion
    rep_a: User
    rep_b: User
    leads: list[Lead] = field(default_factory=list)

    def commitment(self, metric: str) -> Commitment:
        return self.version.commitments.get(metric=metric)


def last_week(now: datetime | None = None) -> Period:
    return previous(period_for(PeriodKind.WEEK, now or timezone.now(), TZ))


def known_dataset(*, extra_mqls: int = 0) -> Dataset:
    """Last week's cohort of 10 MQLs (plus ``extra_mqls`` met ones for growth tests):

    first contact (4 business hours): 6 met (rep A 4, rep B 2), 3 late (rep B), 1 never
      → 6 of 10 = 60 %, red (target 90 %, yellow 80 %);
    MQL → SQL: 3 of 10 (30 %, green against 25 %); rejections: 3, 2 with a reason (67 %, yellow);
    disposition within 72 h: 3 SQL + 3 rejected on day 1 → 6 met, 4 missed (60 %, green);
    sources: 6 webinar, 4 paid_search; pipeline: 120 000 open this quarter (1.2x, red).
    """
    now = timezone.now()
    week = last_week(now)
    monday = week.start
    version = signed_version(effective_at=now - timedelta(days=400))
    rep_a = user("rep", "Avery Rep")
    rep_b = user("rep", "Blake Rep")
    wrong_person = reason("Not a decision-maker")
    data = Dataset(now=now, week=week, version=version, rep_a=rep_a, rep_b=rep_b)
    # Mon, Tue, Wed at 10:00, 11:00, 12:00 (business hours): due 4 business hours later.
    slots = [monday + timedelta(days=d, hours=h) for d in range(3) for h in (10, 11, 12)]
    slots.append(monday + timedelta(days=3, hours=10))
    plan = [
        # owner, first touch after, sql?, rejected?(reason?), source
        (rep_a, timedelta(minutes=3), True, None, "webinar"),
        (rep_a, timedelta(minutes=30), True, None, "webinar"),
        (rep_a, timedelta(hours=2), False, "reason", "webinar"),
        (rep_a, timedelta(hours=3), False, None, "paid_search"),
        (rep_b, timedelta(minutes=45), True, None, "webinar"),
        (rep_b, timedelta(hours=1), False, "reason", "paid_search"),
        (rep_b, timedelta(days=1, hours=5), False, "none", "webinar"),
        (rep_b, timedelta(days=1, hours=6), False, None, "paid_search"),
        (rep_b, timedelta(days=2), False, None, "webinar"),
        (None, None, False, None, "paid_search"),
    ]
    for mql_at, (owner, after, is_sql, rejected, source) in zip(slots, plan, strict=True):
        data.leads.append(
            mql_lead(
                version=version,
                mql_at=mql_at,
                owner=owner,
                source=source,
                campaign="Spring webinar" if source == "webinar" else "Search brand",
                first_touch=mql_at + after if after else None,
                sql_at=mql_at + timedelta(hours=20) if is_sql else None,
                rejected_at=mql_at + timedelta(hours=22) if rejected else None,
                rejection_reason=wrong_person if rejected == "reason" else None,
            )
        )
    for i in range(extra_mqls):
        mql_at = monday + timedelta(days=4, hours=9, minutes=i % 400)
        data.leads.append(
            mql_lead(
                version=version,
                mql_at=mql_at,
                owner=rep_a,
                first_touch=mql_at + timedelta(minutes=10),
                source="webinar" if i % 2 else "events",
            )
        )
    # The quarter the scored week belongs to (the one pipeline coverage reads), which is not
    # today's quarter during the first days of a quarter.
    quarter = period_for(PeriodKind.QUARTER, monday, TZ)
    for amount in (Decimal(40000), Decimal(80000)):
        data.leads.append(
            mql_lead(
                version=version,
                mql_at=monday - timedelta(days=30),
                owner=rep_a,
                first_touch=monday - timedelta(days=30) + timedelta(minutes=20),
                sql_at=monday - timedelta(days=29),
                stage="opportunity",
                opportunity_at=monday - timedelta(days=20),
                amount=amount,
                expected_close=quarter.last_day,
            )
        )
    return data


def history(data: Dataset, *, weeks: int = 7) -> None:
    """Earlier weeks for the sparklines: 8 MQLs a week whose on-time first contacts drift from
    7 of 8 down to 3 of 8 (a commitment going red), all owned by the two reps."""
    week = data.week
    for back in range(1, weeks + 1):
        week = previous(week)
        on_time = max(3, 8 - back // 2 - (weeks - back) // 2)
        for i in range(8):
            mql_at = week.start + timedelta(days=i % 4, hours=10 + i // 4)
            late = i >= on_time
            data.leads.append(
                mql_lead(
                    version=data.version,
                    mql_at=mql_at,
                    owner=data.rep_a if i % 2 else data.rep_b,
                    source=("webinar", "paid_search", "events")[i % 3],
                    first_touch=mql_at
                    + (timedelta(days=1, hours=6) if late else timedelta(minutes=20)),
                    sql_at=mql_at + timedelta(hours=30) if i % 3 == 0 else None,
                )
            )


def closed_deals(data: Dataset) -> None:
    """Deals won and lost last week from three sources (the revenue and win-rate chart)."""
    plan = {
        "webinar": [("won", 48000), ("won", 36000), ("lost", 20000)],
        "paid_search": [("won", 30000), ("lost", 15000), ("lost", 15000)],
        "events": [("won", 52000), ("lost", 10000)],
    }
    for day, (source, deals) in enumerate(plan.items()):
        for index, (stage, amount) in enumerate(deals):
            mql_at = data.week.start - timedelta(days=40 - day)
            data.leads.append(
                mql_lead(
                    version=data.version,
                    mql_at=mql_at,
                    owner=data.rep_a,
                    source=source,
                    first_touch=mql_at + timedelta(minutes=15),
                    sql_at=mql_at + timedelta(days=1),
                    stage=stage,
                    amount=Decimal(amount),
                    opportunity_at=mql_at + timedelta(days=3),
                    closed_at=data.week.start + timedelta(days=day, hours=14 + index),
                )
            )
