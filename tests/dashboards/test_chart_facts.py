"""The MQL charts read the per-MQL-event fact table: one GROUP BY each, equal number for
number to the computation from the raw rows they replaced (tests/dashboards/reference.py),
on generated stories fed through the hand-off channels — re-dated MQLs, returns to nurture
and second lives, late and shuffled arrivals, reassignments, source changes — for weeks,
months and quarters, open and closed, with the source and owner filters. The compliance
engine's owner and source filters and per-owner counts (the reps chart), and the pipeline
at risk's win rates of one owner or source, read the fact row's owner and source too: they
equal the lead's as they are now."""

import contextlib
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from apps.accounts.exceptions import DomainError
from apps.compliance import kind_selectors
from apps.compliance import selectors as compliance_selectors
from apps.compliance.metrics import Outcome
from apps.compliance.models import MqlEventFact
from apps.compliance.periods import PeriodKind, period_for
from apps.dashboards import selectors
from apps.dashboards.scope import Scope
from apps.dispositions.models import Disposition, ReasonCode
from apps.handoff import channels
from apps.leads.models import Lead, Stage
from apps.mql.models import MqlDefinition, MqlEvent
from apps.sla import clocks as sla_clocks
from apps.sla.models import ClockKind, ClockState, SlaClock
from tests.compliance import factories as sla_f
from tests.dashboards import reference
from tests.leads.factories import RoutingRuleFactory
from tests.mql.factories import published_definition
from tests.sla.factories import DISPOSITION_48H, FIRST_CONTACT_4H

# A Monday morning; every fact and every scope below is placed relative to it, never to now.
BASE = datetime(2025, 5, 5, 9, 0, tzinfo=UTC)
TZ = "UTC"
SOURCES = ("webinar", "paid_search", "events")
# Sales-touch delays hitting every response bucket, the boundaries included.
TOUCH_AFTER = (
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=40),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=20),
    timedelta(hours=24),
    timedelta(days=3),
)


@pytest.fixture
def organization(acme, make_user):
    MqlDefinition.objects.filter(status="published").update(status="retired")
    published_definition()
    sla_f.signed_version(
        effective_at=BASE - timedelta(days=60), commitments=(FIRST_CONTACT_4H, DISPOSITION_48H)
    )
    reps = [make_user("rep"), make_user("rep")]
    RoutingRuleFactory(name="Everyone", is_fallback=True, pool=reps)
    return {"reps": reps, "leader": make_user("sales_leader")}


def _leads(tag: str, count: int) -> list[Lead]:
    return Lead.objects.bulk_create(
        Lead(
            external_id=f"{tag}-{i}",
            email=f"buyer{i}@{tag}.example",
            company_size=300,
            country="US",
            source=SOURCES[i % 3],
            campaign=f"spring-{i % 4}",
            created_at=BASE - timedelta(days=20),
            stage_changed_at=BASE - timedelta(days=20),
        )
        for i in range(count)
    )


def _activity(external_id: str, lead: Lead, kind: str, at: datetime, url: str = "") -> dict:
    item = {
        "external_id": external_id,
        "lead": lead.external_id,
        "kind": kind,
        "occurred_at": at.isoformat(),
    }
    if url:
        item["properties"] = {"url": url}
    return item


def _story(rng: random.Random, lead: Lead, index: int, tag: str) -> list[tuple]:
    """One lead's facts as (occurred_at, kind of arrival, payload), in time order: one or two
    lives (a pricing visit qualifies it; a second, earlier visit arriving late re-dates it),
    sales touches, a disposition (back to nurture: a second life), the CRM moving it to SQL,
    sometimes a reassignment or a new source."""
    facts: list[tuple] = []
    at = BASE + timedelta(hours=rng.randrange(0, 24 * 40))
    for life in range(rng.choice((1, 1, 2))):
        qualified = at  # the first pricing visit of a life qualifies the lead
        for visit in range(rng.choice((1, 2))):
            url = "/pricing"
            facts.append(
                (
                    at,
                    "activity",
                    _activity(f"{tag}-{index}-p{life}{visit}", lead, "page_view", at, url),
                )
            )
            at += timedelta(hours=rng.randrange(1, 30))
        for touch in range(rng.randrange(0, 3)):
            touch_at = qualified + rng.choice(TOUCH_AFTER) + timedelta(hours=touch)
            kind = rng.choice(("call", "email_sent", "meeting"))
            facts.append(
                (
                    touch_at,
                    "activity",
                    _activity(f"{tag}-{index}-t{life}{touch}", lead, kind, touch_at),
                )
            )
            at = max(at, touch_at)
        if rng.random() < 0.35:
            at += timedelta(hours=rng.randrange(1, 48))
            facts.append((at, "stage", (lead, "sql")))
        if rng.random() < 0.7:
            at += timedelta(hours=rng.randrange(1, 72))
            outcome = rng.choice(("working", "rejected", "nurture", "accepted", "nurture"))
            facts.append((at, "disposition", (lead, outcome, f"{tag}-{index}-d{life}")))
            if outcome != "nurture":
                break
        at += timedelta(days=rng.randrange(1, 6))
    if rng.random() < 0.25:
        facts.append((at + timedelta(hours=2), "reassign", lead))
    if rng.random() < 0.2:
        facts.append((at + timedelta(hours=3), "source", (lead, rng.choice(SOURCES))))
    return facts


def _reason(outcome: str) -> ReasonCode | None:
    if outcome not in ("rejected", "nurture"):
        return None
    return ReasonCode.objects.filter(outcome=outcome, retired_at__isnull=True).order_by("id")[0]


def _play(organization, tag: str, count: int, seed: int) -> datetime:
    """Feed ``count`` leads' stories through the channels, shuffled and partly duplicated;
    returns the last moment ("now") of the feed."""
    rng = random.Random(seed)
    leads = _leads(tag, count)
    arrivals = [fact for i, lead in enumerate(leads) for fact in _story(rng, lead, i, tag)]
    # Facts arrive out of order within a sliding horizon (older after newer: re-dating).
    arrivals.sort(key=lambda fact: fact[0] + timedelta(hours=rng.randrange(0, 96)))
    now = BASE
    position = 0
    while position < len(arrivals):
        batch = arrivals[position : position + rng.randrange(1, 6)]
        position += len(batch)
        now = max(now, *(fact[0] for fact in batch)) + timedelta(minutes=1)
        activities = {fact[2]["external_id"]: fact[2] for fact in batch if fact[1] == "activity"}
        if activities:
            result = channels.activities_ingest(
                items=list(activities.values()), channel="api", actor=None, now=now
            )
            assert result.rejected == 0, result.errors
        for at, kind, payload in batch:
            if kind == "disposition":
                lead, outcome, external_id = payload
                lead.refresh_from_db()
                # A disposition on a lead that is not (yet) an MQL is refused: skip it.
                with contextlib.suppress(DomainError):
                    channels.disposition_create(
                        lead=lead,
                        outcome=outcome,
                        reason_code=_reason(outcome),
                        actor=organization["leader"],
                        occurred_at=at,
                        external_id=external_id,
                        now=now,
                    )
            elif kind == "stage":
                lead, stage = payload
                channels.leads_upsert(
                    items=[
                        {
                            "external_id": lead.external_id,
                            "stage": stage,
                            "stage_changed_at": at.isoformat(),
                        }
                    ],
                    channel="api",
                    actor=None,
                    now=now,
                )
            elif kind == "reassign":
                payload.refresh_from_db()
                other = next(r for r in organization["reps"] if r.pk != payload.owner_id)
                channels.lead_reassign(lead=payload, owner=other, actor=organization["leader"])
            elif kind == "source":
                lead, source = payload
                channels.leads_upsert(
                    items=[{"external_id": lead.external_id, "source": source}],
                    channel="api",
                    actor=None,
                    now=now,
                )
    return now


def _scopes(organization, now: datetime) -> list[Scope]:
    """Weeks, months and a quarter of the stories, closed (as of their end) and open (as of
    a moment inside), organization-wide, for one source and for one rep."""
    scopes = []
    moments = [BASE + timedelta(days=9, hours=13, minutes=7), BASE + timedelta(days=33, hours=2)]
    for kind in (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER):
        for moment in moments:
            period = period_for(kind, moment, TZ)
            for as_of in (moment, period.end):
                for filters in (
                    {},
                    {"source": "webinar"},
                    {"owner_id": organization["reps"][0].pk},
                ):
                    scopes.append(
                        Scope(period=period, as_of=as_of, tz=TZ, choice="custom", **filters)
                    )
    return scopes


def _numbers(scope: Scope) -> dict:
    """Each rewritten chart's numbers, from the selectors (the fact table)."""
    found = {}
    for kind, count in ((PeriodKind.WEEK, 8), (PeriodKind.MONTH, 6)):
        volume = selectors.mql_volume_points(scope, kind=kind, count=count)
        weekly = selectors.mql_to_sql_by_period(scope, kind=kind, count=count)
        found[f"volume-{kind}"] = [(p.count, 0) for p in volume]
        found[f"cohort-{kind}"] = [(b.denominator, b.numerator) for b in weekly]
    for field in ("source", "campaign"):
        found[f"by-{field}"] = [
            (b.label, b.numerator, b.denominator)
            for b in selectors.mql_to_sql_by(scope, field=field)
        ]
    found["speed"] = [(b.label, b.numerator, b.denominator) for b in selectors.speed_to_lead(scope)]
    return found


def _reference(scope: Scope) -> dict:
    """The same numbers computed from the raw rows, as the charts did before."""
    found = {}
    for kind, count in ((PeriodKind.WEEK, 8), (PeriodKind.MONTH, 6)):
        periods = selectors._series(scope, kind, count)
        found[f"volume-{kind}"] = reference.per_period_counts(scope, periods, converted=False)
        found[f"cohort-{kind}"] = reference.per_period_counts(scope, periods)
    for field in ("source", "campaign"):
        found[f"by-{field}"] = [
            (value or "(none)", sql, n)
            for value, sql, n in reference.mql_to_sql_by(scope, field=field)
        ]
    found["speed"] = reference.speed_to_lead(scope)
    return found


def test_fact_charts_equal_the_raw_computation_on_generated_stories(organization):
    # Given 60 leads' stories fed through the hand-off channels, shuffled and late,
    now = _play(organization, "story", 60, seed=1313)
    events = MqlEvent.objects.filter(kind="mql")
    facts = MqlEventFact.objects.filter(kind="mql")
    # the stories exercised what the charts must follow:
    assert facts.count() == events.count() >= 50
    assert facts.filter(window_end__isnull=False).exists(), "no second life"
    assert any(e.qualified_at != e.recorded_at for e in events), "no re-dated or back-filled MQL"
    assert facts.filter(sql_at__isnull=False).count() >= 5
    assert facts.filter(first_touch_at__isnull=False).count() >= 10
    assert facts.exclude(owner_id=None).exclude(owner_id=F("owner_at_mql_id")).exists()

    # When every rewritten chart is computed for weeks, months and a quarter, open and
    # closed, with and without filters,
    scopes = _scopes(organization, now)
    compared = 0
    for scope in scopes:
        # Then each number equals the computation from the raw rows.
        assert _numbers(scope) == _reference(scope), scope
        compared += 1
    assert compared == len(scopes) == 36
    # and the stories reached every bucket and converted somewhere.
    quarter = next(
        s
        for s in scopes
        if s.period.kind == "quarter"
        and s.as_of == s.period.end
        and not s.source
        and not s.owner_id
    )
    speed = _numbers(quarter)["speed"]
    assert all(n > 0 for _label, _sql, n in speed if _label != "later"), speed
    assert sum(sql for _label, sql, _n in speed) > 0


def _chart_queries(scope: Scope) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        _numbers(scope)
    return [query["sql"] for query in captured]


def test_fact_charts_read_only_the_fact_table_in_a_constant_number_of_queries(organization):
    now = _play(organization, "small", 8, seed=7)
    scope = Scope(
        period=period_for(PeriodKind.QUARTER, BASE, TZ),
        as_of=now,
        tz=TZ,
        choice="custom",
        source="webinar",
    )
    small = _chart_queries(scope)
    _play(organization, "large", 60, seed=8)
    large = _chart_queries(scope)

    # The same statements whatever the number of MQLs: per chart, JIT off and one aggregate.
    assert len(large) == len(small)
    fact = MqlEventFact._meta.db_table
    reads = [sql for sql in large if not sql.startswith("SET LOCAL jit")]
    assert len(reads) == 7 and len(large) == 14
    for sql in reads:
        assert f'FROM "{fact}"' in sql
        # no raw table: no event windows, leads, stage changes or activities per event
        for raw in ("mql_mqlevent", "leads_lead", "leads_stagechange", "leads_activity"):
            assert raw not in sql, (raw, sql)


def test_the_engines_owner_and_source_filters_follow_reassignments_and_source_changes(
    organization,
):
    # Given stories with reassignments and source changes fed through the channels,
    now = _play(organization, "owners", 50, seed=2718)
    period = period_for(PeriodKind.QUARTER, BASE, TZ)
    leads = {lead.pk: lead for lead in Lead.objects.all()}
    moved = MqlEventFact.objects.exclude(owner_id=F("owner_at_mql_id")).exclude(owner_id=None)
    assert moved.exists(), "no reassignment after an MQL"
    kinds = [
        k
        for k in kind_selectors.commitment_kinds(period=period)
        if k.metric in ("first_contact_time", "disposition_time")
    ]
    assert len(kinds) == 2
    for kind in kinds:
        # the engine's outcome of every event, attributed in Python to the lead's owner and
        # source as they are now,
        result = compliance_selectors.kind_result(kind=kind, period=period, as_of=now)
        lead_of = dict(MqlEvent.objects.filter(pk__in=result.outcomes).values_list("pk", "lead"))
        expected_owner: dict = {}
        expected_source: dict = {}
        for event, outcome in result.outcomes.items():
            lead = leads[lead_of[event]]
            for expected, key in ((expected_owner, lead.owner_id), (expected_source, lead.source)):
                met, missed, pending = expected.get(key, (0, 0, 0))
                expected[key] = (
                    met + (outcome == Outcome.MET),
                    missed + (outcome == Outcome.MISSED),
                    pending + (outcome == Outcome.PENDING),
                )
        # Then the per-owner counts (the reps chart) and the owner and source filters agree.
        owners = compliance_selectors.commitment_owner_counts(kind=kind, period=period, as_of=now)
        assert owners == expected_owner
        for owner_id, (met, missed, pending) in expected_owner.items():
            if owner_id is None:
                continue
            mine = compliance_selectors.kind_result(
                kind=kind, period=period, as_of=now, owner_id=owner_id, with_outcomes=False
            )
            assert (mine.numerator, mine.denominator - mine.numerator, mine.pending) == (
                met,
                missed,
                pending,
            )
        for source, (met, missed, pending) in expected_source.items():
            theirs = compliance_selectors.kind_result(
                kind=kind, period=period, as_of=now, source=source, with_outcomes=False
            )
            assert (theirs.numerator, theirs.denominator - theirs.numerator, theirs.pending) == (
                met,
                missed,
                pending,
            ), source


def test_pipeline_at_risk_win_rates_of_an_owner_or_a_source_equal_the_raw_computation(
    organization,
):
    # Given stories with reassignments and source changes fed through the channels, a day
    # later the clocks nobody met breached, and some leads won,
    now = _play(organization, "rates", 50, seed=4242) + timedelta(days=1)
    assert sla_clocks.clocks_breach(now=now) > 0
    clocked = list(
        SlaClock.objects.filter(kind=ClockKind.FIRST_CONTACT)
        .order_by("lead_id")
        .values_list("lead_id", flat=True)
        .distinct()
    )
    Lead.objects.filter(pk__in=clocked[::3]).update(
        stage=Stage.WON, closed_at=now - timedelta(hours=1), amount=1000
    )
    states = set(SlaClock.objects.values_list("state", flat=True))
    assert {ClockState.MET, ClockState.BREACHED} <= states, states
    # and a few of the second rep's settled leads handed to the first (so the moves are not
    # symmetric and the owner at MQL time would count differently),
    first, second = organization["reps"]
    for lead in Lead.objects.filter(pk__in=clocked, owner=second).order_by("pk")[:4]:
        channels.lead_reassign(lead=lead, owner=first, actor=organization["leader"])
    moved = MqlEventFact.objects.exclude(owner_id=F("owner_at_mql_id")).exclude(owner_id=None)
    assert moved.exists(), "no reassignment after an MQL"
    # When the win rates are read for every owner and every source (the fact rows' owner and
    # source), and organization-wide,
    filters = [{}]
    filters += [{"owner_id": rep.pk} for rep in organization["reps"]]
    filters += [{"source": source} for source in SOURCES]
    compared = []
    for found in filters:
        rates = compliance_selectors.first_contact_win_rates(as_of=now, **found)
        # Then they equal the clocks counted lead by lead with the lead's owner and source now.
        expected = reference.first_contact_win_rates(as_of=now, **found)
        assert (
            rates.in_sla_won,
            rates.in_sla_total,
            rates.out_sla_won,
            rates.out_sla_total,
        ) == expected, found
        compared.append(expected)
    # and the stories gave every filter both states and some wins.
    assert all(in_total and out_total for _w, in_total, _o, out_total in compared), compared
    assert sum(in_won + out_won for in_won, _i, out_won, _o in compared) > 0


def test_funnel_equals_the_lead_by_lead_computation(organization):
    # Given stories fed through the channels, leads created over a month and a half before
    # and after the first MQLs, and some taken on by the CRM to opportunity, won and lost,
    now = _play(organization, "funnel", 50, seed=99)
    rng = random.Random(99)
    for lead in Lead.objects.order_by("pk"):
        Lead.objects.filter(pk=lead.pk).update(
            created_at=BASE + timedelta(hours=rng.randrange(-24 * 30, 24 * 15))
        )
    converted = list(Lead.objects.filter(sql_at__isnull=False).order_by("pk"))
    assert len(converted) >= 6
    for i, lead in enumerate(converted):
        at = lead.sql_at + timedelta(hours=5 + 7 * i)
        stages = [("opportunity", at)]
        if i % 3:
            stages.append(("won" if i % 3 == 1 else "lost", at + timedelta(days=2, hours=i)))
        for stage, moment in stages:
            channels.leads_upsert(
                items=[
                    {
                        "external_id": lead.external_id,
                        "stage": stage,
                        "stage_changed_at": moment.isoformat(),
                        "amount": "1200.00",
                        "expected_close": (moment + timedelta(days=30)).date().isoformat(),
                    }
                ],
                channel="api",
                actor=None,
                now=max(now, moment),
            )
    assert Lead.objects.filter(stage="won").exists() and Lead.objects.filter(stage="lost").exists()
    # When the funnel is read for weeks, months and a quarter, open and closed, with and
    # without the filters,
    later = now + timedelta(days=5)
    compared = 0
    for scope in _scopes(organization, later):
        stages = selectors.funnel_stages(scope)
        found = [
            (s.label, s.count, None if s.median_days is None else s.median_days * 86400)
            for s in stages
        ]
        # Then every count and median equals the lead-by-lead computation.
        expected = reference.funnel(scope)
        assert [(label, n) for label, n, _m in found] == [(label, n) for label, n, _m in expected]
        for (_l, _n, median), (_el, _en, wanted) in zip(found, expected, strict=True):
            assert median == (None if wanted is None else pytest.approx(wanted, rel=1e-9)), scope
        compared += sum(n for _label, n, _m in expected)
    assert compared > 0
    quarter = Scope(
        period=period_for(PeriodKind.QUARTER, BASE, TZ), as_of=later, tz=TZ, choice="custom"
    )
    # and every stage before Won (which has no next step) had a median to compare.
    medians = [m for _label, _n, m in reference.funnel(quarter)]
    assert all(m is not None for m in medians[:-1]) and medians[-1] is None, medians


def test_rejection_reasons_equal_the_join_with_the_leads(organization):
    # Given stories with rejections, reassignments and source changes fed through the
    # channels, one rejection left without its MQL event (its event deleted: SET NULL), and
    # one without a reason,
    now = _play(organization, "rejections", 60, seed=31337)
    rejected = Disposition.objects.filter(outcome="rejected").order_by("pk")
    assert rejected.count() >= 6
    Disposition.objects.filter(pk=rejected[0].pk).update(mql_event=None)
    Disposition.objects.filter(pk=rejected[1].pk).update(reason_code=None)
    first, second = organization["reps"]
    for disposition in rejected.filter(lead__owner=second)[:3]:
        channels.lead_reassign(lead=disposition.lead, owner=first, actor=organization["leader"])
    channels.leads_upsert(
        items=[{"external_id": rejected[0].lead.external_id, "source": "events"}],
        channel="api",
        actor=None,
        now=now,
    )
    # When the Pareto is read for weeks, months and a quarter, open and closed, with and
    # without the filters,
    counted = 0
    for scope in _scopes(organization, now + timedelta(days=5)):
        bars = selectors.rejection_reasons(scope)
        # Then every bar equals the join of the rejections with their leads.
        expected = reference.rejection_reasons(scope)
        assert [(b.reason, b.source, b.count) for b in bars] == [
            (label or "(no reason given)", source, n) for _id, label, source, n in expected
        ], scope
        counted += sum(b.count for b in bars)
    assert counted > 0
