"""Compliance of a period reads the per-MQL-event fact table with a range scan.

The numbers themselves are held by tests/compliance/test_selectors_agreement.py (the SQL
over the fact table equals the pure reference); here: the plan of the compliance query on
a table of several thousand events spread over two years scans the fact table's
(kind, mql_at) index for one week and reads none of the raw fact tables (activities,
dispositions, stage changes, MQL events), and these analytical reads run without JIT.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.compliance import kind_selectors, metric_sql, selectors
from apps.compliance.models import MqlEventFact
from apps.compliance.periods import PeriodKind, period_for
from apps.leads.models import Lead
from apps.mql.models import MqlEvent
from tests.compliance import factories as f
from tests.sla.factories import DISPOSITION_48H, FIRST_CONTACT_4H

EVENTS = 4000
SPAN = timedelta(days=730)
RAW_TABLES = {
    metric_sql.ACTIVITY,
    metric_sql.DISPOSITION,
    metric_sql.STAGE_CHANGE,
    metric_sql.EVENT,
}
CADENCE = {
    "owner_team": "sales",
    "metric": "follow_up_cadence",
    "params": {"touches": 2, "days": 3},
    "target": 0.7,
    "yellow_threshold": 0.5,
}
SQL_RATE = {
    "owner_team": "marketing",
    "metric": "mql_to_sql_rate",
    "params": {},
    "target": 0.3,
    "yellow_threshold": 0.2,
}


@pytest.fixture
def two_years(acme):
    """A fact table of EVENTS MQL events, one every ~4.4 hours over two years (statistics
    gathered), and a signed version with a commitment of each kind measured below."""
    now = timezone.now()
    start = now - SPAN
    version = f.signed_version(
        effective_at=start - timedelta(days=1),
        commitments=[FIRST_CONTACT_4H, DISPOSITION_48H, CADENCE, f.MQL_VOLUME, SQL_RATE],
    )
    definition = f.definition()
    step = SPAN / EVENTS
    leads = Lead.objects.bulk_create(
        Lead(
            external_id=f"plan-{n}",
            email=f"plan{n}@prospect.test",
            company=f"Company {n}",
            source="webinar",
            stage="mql",
            mql_at=start + step * n,
        )
        for n in range(EVENTS)
    )
    events = MqlEvent.objects.bulk_create(
        MqlEvent(lead=lead, definition=definition, qualified_at=lead.mql_at) for lead in leads
    )
    MqlEventFact.objects.bulk_create(
        MqlEventFact(
            event=event,
            lead_id=event.lead_id,
            kind="mql",
            mql_at=event.qualified_at,
            definition=definition,
            definition_version=definition.version,
            sla_version=version,
            first_contact_due=event.qualified_at + timedelta(hours=4),
            disposition_due=event.qualified_at + timedelta(hours=48),
            follow_up_due=event.qualified_at + timedelta(days=3),
            cadence_touches=2,
            cadence_days=3,
            first_touch_at=event.qualified_at + timedelta(hours=n % 9),
            first_contact_business_seconds=(n % 9) * 3600.0,
            refreshed_at=now,
        )
        for n, event in enumerate(events)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {metric_sql.FACT}")
    week = period_for(PeriodKind.WEEK, now - timedelta(days=200), "UTC")
    return week


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _plan(query: metric_sql.Query) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {query.sql}", query.params)
        (document,) = cursor.fetchone()
    if isinstance(document, str):
        document = json.loads(document)
    return list(_nodes(document[0]["Plan"]))


@pytest.mark.parametrize(
    "metric",
    [
        "first_contact_time",
        "disposition_time",
        "follow_up_cadence",
        "mql_volume",
        "mql_to_sql_rate",
    ],
)
def test_a_weeks_compliance_scans_the_fact_tables_kind_time_index(two_years, metric):
    week = two_years
    kind = {k.metric: k for k in kind_selectors.commitment_kinds(period=week)}[metric]
    query = metric_sql.aggregate_sql(selectors._outcomes_query(kind, week, week.end, owner_id=None))

    nodes = _plan(query)

    _assert_range_scan(nodes)
    read = {n.get("Relation Name") for n in nodes} - {None}
    if metric == "follow_up_cadence":
        # Only a second cadence commitment of one version counts raw touches (a branch
        # never taken here: this version's N is the fact row's).
        read -= {metric_sql.ACTIVITY}
    assert not read & RAW_TABLES, read


def _assert_range_scan(nodes: list[dict]) -> None:
    """The fact table is read through an index bounding mql_at (the (kind, mql_at) index;
    the planner may prefer another index ending in mql_at when the table's statistics, which
    other tests' rolled-back rows leave behind, make it look cheaper), never scanned whole."""
    fact_reads = [n for n in nodes if n.get("Relation Name") == metric_sql.FACT]
    assert fact_reads, "the compliance query reads the fact table"
    assert all(n["Node Type"] != "Seq Scan" for n in fact_reads), fact_reads
    bounded = [
        n
        for n in nodes
        if n.get("Index Name", "").startswith("mqlfact_") and "mql_at" in n.get("Index Cond", "")
    ]
    assert bounded, fact_reads


def test_every_kind_of_a_week_in_one_statement_scans_the_fact_tables_time_index(two_years):
    week = two_years
    kinds = kind_selectors.commitment_kinds(period=week)
    query = metric_sql.kinds_aggregate_sql(
        kinds=[(k.metric, selectors._version_terms(k, week, week.end)) for k in kinds],
        period_start=week.start,
        period_end=week.end,
        as_of=week.end,
        cohort=metric_sql.CohortFilter(),
        owners=True,
    )

    nodes = _plan(query)

    _assert_range_scan(nodes)
    read = {n.get("Relation Name") for n in nodes} - {None}
    assert not read & RAW_TABLES - {metric_sql.ACTIVITY}, read


def test_the_figures_come_from_the_fact_rows_and_run_without_jit(two_years):
    week = two_years
    kinds = {k.metric: k for k in kind_selectors.commitment_kinds(period=week)}
    expected = MqlEventFact.objects.filter(mql_at__gte=week.start, mql_at__lt=week.end)

    with CaptureQueriesContext(connection) as queries:
        volume = selectors.kind_result(
            kind=kinds["mql_volume"], period=week, as_of=week.end, with_outcomes=False
        )
        contact = selectors.kind_result(
            kind=kinds["first_contact_time"], period=week, as_of=week.end, with_outcomes=False
        )

    assert volume.numerator == expected.count() > 20
    # Touched 0..8 hours after mql_at, due after 4; a touch after as_of is not known yet.
    known = [(e.first_touch_at if e.first_touch_at <= week.end else None, e) for e in expected]
    met = sum(1 for at, e in known if at is not None and at <= e.first_contact_due)
    missed = sum(
        1
        for at, e in known
        if (at is not None and at > e.first_contact_due)
        or (at is None and week.end > e.first_contact_due)
    )
    assert 0 < met < met + missed
    assert (contact.numerator, contact.denominator) == (met, met + missed)
    assert contact.pending == expected.count() - met - missed
    statements = [q["sql"] for q in queries.captured_queries]
    reads = [i for i, sql in enumerate(statements) if metric_sql.FACT in sql]
    assert len(reads) == 2
    assert all(statements[i - 1] == selectors.ANALYTICAL_SETTINGS for i in reads), statements
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
