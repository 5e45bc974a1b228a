"""The SQL twin of metrics.py: each metric of the catalogue as one set-based query.

Used by apps/compliance/selectors.py only. ``outcomes_sql`` builds, for one
commitment, period and as_of, a query with one row per measured MQL event:

    (event_id, lead_id, mql_at, due_at, fact_at, outcome, hours)

``outcome`` is met / missed / pending exactly as metrics.py classifies the MQL;
``hours`` is the business hours from mql_at to first contact (first_contact_time
only). The selectors aggregate it (counts, percentile_cont) or list its leads.

Decisions, the same as the reference functions unless said otherwise:

* cohort = MqlEvents of kind "mql" whose qualified_at is in [period.start,
  period.end) and <= as_of; one row per event, so a lead that qualified twice in
  a period counts twice (the reference's cohort has one MqlFacts per event);
* touches and dispositions count from mql_at (inclusive) to as_of (inclusive);
* the clock metrics (first contact, follow-up cadence, disposition) measure the
  events that have a clock of *this* commitment: due times come from the clock,
  computed once at MQL time, and the clock exists only when the commitment's
  segment matched the lead at MQL time (apps.sla.clocks.clocks_open);
* the other metrics apply the commitment's segment to the lead as it is now;
* sql_at of an event = the lead's sql_at when it is at or after mql_at, else the
  first StageChange to "sql" at or after mql_at (a lead back from nurture that
  converts again), so an earlier life of the lead never counts;
* pipeline_coverage: leads with an opportunity_at, stage opportunity / won / lost,
  open at as_of, expected_close within the quarter of the period's first day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from apps.compliance.metrics import FINAL_OUTCOMES, Metric
from apps.dispositions.models import Disposition
from apps.leads.field_conditions import FieldCondition, is_number
from apps.leads.models import Activity, Lead, StageChange
from apps.mql.models import MqlEvent
from apps.mql.rules import NUMERIC_FIELDS
from apps.sla.models import SlaClock

LEAD = Lead._meta.db_table
EVENT = MqlEvent._meta.db_table
ACTIVITY = Activity._meta.db_table
CLOCK = SlaClock._meta.db_table
DISPOSITION = Disposition._meta.db_table
STAGE_CHANGE = StageChange._meta.db_table

FINAL = tuple(sorted(FINAL_OUTCOMES))
CLOCK_METRICS = frozenset(
    {Metric.FIRST_CONTACT_TIME, Metric.FOLLOW_UP_CADENCE, Metric.DISPOSITION_TIME}
)
# Lead columns a segment condition can test in SQL; others go through Python.
_TEXT_COLUMNS = frozenset(
    {
        "external_id",
        "email",
        "first_name",
        "last_name",
        "title",
        "seniority",
        "company",
        "company_domain",
        "industry",
        "country",
        "region",
        "source",
        "campaign",
        "stage",
    }
)
_NUMBER_COLUMNS = frozenset(NUMERIC_FIELDS)
_NAMED = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Query:
    """SQL with positional ``%s`` placeholders and their parameters, in order."""

    sql: str
    params: tuple[Any, ...]


def bind(sql: str, params: dict[str, Any]) -> Query:
    """Named ``%(name)s`` placeholders to positional ones (RawSQL and cursors take those)."""
    ordered: list[Any] = []

    def replace(match: re.Match) -> str:
        ordered.append(params[match.group(1)])
        return "%s"

    return Query(_NAMED.sub(replace, sql), tuple(ordered))


@dataclass(frozen=True)
class CohortFilter:
    """Which leads a query looks at: an owner, and a segment as SQL or as a list of lead ids."""

    owner_id: int | None = None
    segment_sql: str = ""
    segment_params: tuple[Any, ...] = ()
    segment_lead_ids: tuple[int, ...] | None = None
    # The dashboards' source filter (the lead's source as it is now).
    source: str | None = None

    def sql(self, params: dict[str, Any], *, with_segment: bool = True) -> str:
        parts = []
        if self.owner_id is not None:
            params["owner_id"] = self.owner_id
            parts.append("AND l.owner_id = %(owner_id)s")
        if self.source is not None:
            params["source"] = self.source
            parts.append("AND l.source = %(source)s")
        if with_segment and self.segment_sql:
            for index, value in enumerate(self.segment_params):
                params[f"seg{index}"] = value
            parts.append(f"AND {self.segment_sql}")
        if with_segment and self.segment_lead_ids is not None:
            params["segment_lead_ids"] = list(self.segment_lead_ids)
            parts.append("AND l.id = ANY(%(segment_lead_ids)s)")
        return "\n      ".join(parts)


def segment_sql(conditions: tuple[FieldCondition, ...]) -> tuple[str, tuple[Any, ...]] | None:
    """The segment as a WHERE fragment on ``l`` (named params seg0, seg1, ...), or None when a
    condition has no exact SQL form (properties.*, email_domain, mixed types): the caller then
    evaluates FieldCondition.holds in Python.

    Mirrors mql.scoring: missing data (NULL or blank text) never matches except is_set
    false; text compares trimmed and case-insensitively; numbers numerically.
    """
    parts: list[str] = []
    values: list[Any] = []

    def param(value: Any) -> str:
        values.append(value)
        return f"%(seg{len(values) - 1})s"

    for condition in conditions:
        name, op, value = condition.field, condition.op, condition.value
        if name in _TEXT_COLUMNS:
            column = f"l.{name}"
            present = f"(btrim({column}) <> '')"
            normal = f"lower(btrim({column}))"
            if op == "is_set":
                parts.append(present if value else f"NOT {present}")
            elif op in {"equals", "not_equals"} and isinstance(value, str):
                test = f"{normal} = lower(btrim({param(value)}))"
                parts.append(f"({present} AND {'' if op == 'equals' else 'NOT '}{test})")
            elif op in {"in", "not_in"} and all(isinstance(v, str) for v in value):
                test = f"{normal} = ANY({param([v.strip().lower() for v in value])})"
                parts.append(f"({present} AND {'' if op == 'in' else 'NOT '}{test})")
            elif op == "contains" and isinstance(value, str):
                parts.append(
                    f"({present} AND strpos({normal}, {param(value.strip().lower())}) > 0)"
                )
            else:
                return None
        elif name in _NUMBER_COLUMNS:
            column = f"l.{name}"
            if op == "is_set":
                parts.append(f"{column} IS {'NOT ' if value else ''}NULL")
            elif op in {"gt", "gte", "lt", "lte", "equals", "not_equals"} and is_number(value):
                sign = {
                    "gt": ">",
                    "gte": ">=",
                    "lt": "<",
                    "lte": "<=",
                    "equals": "=",
                    "not_equals": "<>",
                }
                parts.append(f"({column} {sign[op]} {param(Decimal(str(value)))})")
            elif op == "between" and all(is_number(v) for v in value):
                low, high = (param(Decimal(str(v))) for v in value)
                parts.append(f"({column} BETWEEN {low} AND {high})")
            elif op in {"in", "not_in"} and all(is_number(v) for v in value):
                test = f"{column} = ANY({param([Decimal(str(v)) for v in value])})"
                parts.append(f"({column} IS NOT NULL AND {'' if op == 'in' else 'NOT '}{test})")
            else:
                return None
        else:
            return None
    if not parts:
        return "", ()
    # Placeholders are renamed when bound: keep them named seg<N> for CohortFilter.sql.
    return " AND ".join(parts), tuple(values)


def _cohort_cte(cohort: CohortFilter, params: dict[str, Any], *, with_segment: bool) -> str:
    filters = cohort.sql(params, with_segment=with_segment)
    # The lead row is read only to filter on it (owner, segment): the unfiltered cohort is
    # an index range scan of the MQL events alone.
    lead_join = f"JOIN {LEAD} l ON l.id = e.lead_id" if filters else ""
    return f"""
    cohort AS (
      SELECT e.id AS event_id, e.lead_id, e.qualified_at AS mql_at
      FROM {EVENT} e
      {lead_join}
      WHERE e.kind = 'mql'
        AND e.qualified_at >= %(period_start)s AND e.qualified_at < %(period_end)s
        AND e.qualified_at <= %(as_of)s
      {filters}
    )"""  # noqa: S608 - table names and placeholders only; values are bound


_CLOCK_OUTCOME = """
      CASE WHEN f.fact_at IS NOT NULL
             THEN CASE WHEN f.fact_at <= k.due_at THEN 'met' ELSE 'missed' END
           WHEN %(as_of)s > k.due_at THEN 'missed'
           ELSE 'pending' END"""


def outcomes_sql(
    *,
    metric: str,
    commitment_id: int,
    params_json: dict[str, Any],
    period_start: datetime,
    period_end: datetime,
    as_of: datetime,
    cohort: CohortFilter,
    work: dict[str, list] | None = None,
) -> Query:
    """Per-event outcomes of one rate or volume metric (not pipeline_coverage)."""
    params: dict[str, Any] = {
        "period_start": period_start,
        "period_end": period_end,
        "as_of": as_of,
        "commitment_id": commitment_id,
        "final": list(FINAL),
    }
    is_clock = metric in CLOCK_METRICS
    cte = _cohort_cte(cohort, params, with_segment=not is_clock)
    # A lookup per cohort event on the (mql_event, commitment) unique index: a cohort is a
    # period's MQLs, far fewer than the commitment's clocks (LIMIT 1 keeps it a lookup).
    clock_join = f"""CROSS JOIN LATERAL (
      SELECT k.due_at FROM {CLOCK} k
      WHERE k.mql_event_id = c.event_id AND k.commitment_id = %(commitment_id)s LIMIT 1
    ) k"""  # noqa: S608 - table names and placeholders only; values are bound
    if metric == Metric.MQL_VOLUME:
        body = """
    SELECT c.event_id, c.lead_id, c.mql_at, NULL::timestamptz AS due_at,
           NULL::timestamptz AS fact_at, 'met' AS outcome, NULL::float8 AS hours
    FROM cohort c"""
    elif metric == Metric.MQL_TO_SQL_RATE:
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, NULL::timestamptz AS due_at,
           CASE WHEN s.converted_at <= %(as_of)s THEN s.converted_at END AS fact_at,
           CASE WHEN s.converted_at <= %(as_of)s THEN 'met' ELSE 'missed' END AS outcome,
           NULL::float8 AS hours
    FROM cohort c
    JOIN {LEAD} l ON l.id = c.lead_id
    CROSS JOIN LATERAL (
      SELECT CASE WHEN l.sql_at >= c.mql_at THEN l.sql_at
                  ELSE (SELECT min(sc.occurred_at) FROM {STAGE_CHANGE} sc
                        WHERE sc.lead_id = c.lead_id AND sc.to_stage = 'sql'
                          AND sc.occurred_at >= c.mql_at) END AS converted_at
    ) s"""  # noqa: S608 - table names and placeholders only; values are bound
    elif metric == Metric.FIRST_CONTACT_TIME:
        if work is None:
            raise ValueError("first_contact_time needs the working-time index")
        params.update(work)
        worked = "compliance_worked_us(%(work_starts)s, %(work_ends)s, %(work_cum)s, {})"
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, k.due_at, f.fact_at,{_CLOCK_OUTCOME} AS outcome,
           CASE WHEN f.fact_at IS NOT NULL
                THEN ({worked.format("f.fact_at")} - {worked.format("c.mql_at")})::float8
                     / 1000000 / 3600 END AS hours
    FROM cohort c
    {clock_join}
    CROSS JOIN LATERAL (
      SELECT min(a.occurred_at) AS fact_at FROM {ACTIVITY} a
      WHERE a.lead_id = c.lead_id AND a.family = 'sales_touch'
        AND a.occurred_at >= c.mql_at AND a.occurred_at <= %(as_of)s
    ) f"""  # noqa: S608 - table names and placeholders only; values are bound
    elif metric == Metric.DISPOSITION_TIME:
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, k.due_at, f.fact_at,{_CLOCK_OUTCOME} AS outcome,
           NULL::float8 AS hours
    FROM cohort c
    {clock_join}
    LEFT JOIN LATERAL (
      SELECT d.occurred_at AS fact_at FROM {DISPOSITION} d
      WHERE d.lead_id = c.lead_id AND d.outcome = ANY(%(final)s)
        AND d.occurred_at >= c.mql_at AND d.occurred_at <= %(as_of)s
      ORDER BY d.occurred_at, d.id LIMIT 1
    ) f ON true"""  # noqa: S608 - table names and placeholders only; values are bound
    elif metric == Metric.FOLLOW_UP_CADENCE:
        params["touches"] = int(params_json.get("touches", 1))
        params["days"] = int(params_json.get("days", 1))
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, w.window_end AS due_at, NULL::timestamptz AS fact_at,
           CASE WHEN t.touches >= %(touches)s OR fd.found THEN 'met'
                WHEN %(as_of)s > w.window_end THEN 'missed'
                ELSE 'pending' END AS outcome,
           NULL::float8 AS hours
    FROM cohort c
    {clock_join}
    CROSS JOIN LATERAL (
      -- days of 24 h, as metrics.follow_up_outcome (an interval of seconds, not of days)
      SELECT c.mql_at + make_interval(secs => %(days)s * 86400.0) AS window_end
    ) w
    CROSS JOIN LATERAL (
      SELECT count(*) AS touches FROM {ACTIVITY} a
      WHERE a.lead_id = c.lead_id AND a.family = 'sales_touch'
        AND a.occurred_at >= c.mql_at AND a.occurred_at <= LEAST(%(as_of)s, w.window_end)
    ) t
    CROSS JOIN LATERAL (
      SELECT EXISTS (
        SELECT 1 FROM {DISPOSITION} d
        WHERE d.lead_id = c.lead_id AND d.outcome = ANY(%(final)s)
          AND d.occurred_at >= c.mql_at AND d.occurred_at <= LEAST(%(as_of)s, w.window_end)
      ) AS found
    ) fd"""  # noqa: S608 - table names and placeholders only; values are bound
    elif metric == Metric.REJECTION_REASON_COVERAGE:
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, NULL::timestamptz AS due_at, f.fact_at,
           CASE WHEN f.reason_code_id IS NOT NULL THEN 'met' ELSE 'missed' END AS outcome,
           NULL::float8 AS hours
    FROM cohort c
    JOIN LATERAL (
      -- the first final disposition known at as_of decides (metrics.rejection_reason_coverage)
      SELECT d.outcome, d.reason_code_id, d.occurred_at AS fact_at FROM {DISPOSITION} d
      WHERE d.lead_id = c.lead_id AND d.outcome = ANY(%(final)s)
        AND d.occurred_at >= c.mql_at AND d.occurred_at <= %(as_of)s
      ORDER BY d.occurred_at, d.id LIMIT 1
    ) f ON f.outcome = 'rejected'"""  # noqa: S608 - table names and placeholders only; values are bound
    else:
        raise ValueError(f"no outcomes query for metric {metric!r}")
    sql = f"WITH {cte.strip()}\n{body}"
    return bind(sql, params)


def aggregate_sql(outcomes: Query) -> Query:
    """Counts by outcome and percentile_cont of the hours (NULLs skipped) over an outcomes query."""
    sql = f"""
    SELECT count(*) FILTER (WHERE o.outcome = 'met'),
           count(*) FILTER (WHERE o.outcome = 'missed'),
           count(*) FILTER (WHERE o.outcome = 'pending'),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY o.hours),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY o.hours)
    FROM ({outcomes.sql}) o"""  # noqa: S608 - table names and placeholders only; values are bound
    return Query(sql, outcomes.params)


def owner_counts_sql(outcomes: Query) -> Query:
    """(owner_id, met, missed, pending) per current owner of the measured leads, one row each."""
    sql = f"""
    SELECT l.owner_id,
           count(*) FILTER (WHERE o.outcome = 'met'),
           count(*) FILTER (WHERE o.outcome = 'missed'),
           count(*) FILTER (WHERE o.outcome = 'pending')
    FROM ({outcomes.sql}) o
    JOIN {LEAD} l ON l.id = o.lead_id
    GROUP BY l.owner_id"""  # noqa: S608 - table names and placeholders only; values are bound
    return Query(sql, outcomes.params)


def hours_sql(outcomes: Query) -> Query:
    """The hours column where set (first_contact_time: the contacted MQL events)."""
    return Query(
        f"SELECT o.hours FROM ({outcomes.sql}) o WHERE o.hours IS NOT NULL",  # noqa: S608 - table names and placeholders only; values are bound
        outcomes.params,
    )


def lead_outcomes_sql(outcomes: Query) -> Query:
    """(lead_id, outcome) in event order: a later MQL of the same lead overrides an earlier one."""
    return Query(
        f"SELECT o.lead_id, o.outcome FROM ({outcomes.sql}) o ORDER BY o.mql_at, o.event_id",  # noqa: S608 - table names and placeholders only; values are bound
        outcomes.params,
    )


def lead_ids_sql(outcomes: Query, outcome: str | None) -> Query:
    """The lead ids behind one outcome, or all measured ones for None (drill-down), for
    ``Lead.objects.filter(pk__in=RawSQL(...))``."""
    if outcome is None:
        return Query(f"SELECT o.lead_id FROM ({outcomes.sql}) o", outcomes.params)  # noqa: S608 - table names and placeholders only; values are bound
    return Query(
        f"SELECT o.lead_id FROM ({outcomes.sql}) o WHERE o.outcome = %s",  # noqa: S608 - table names and placeholders only; values are bound
        (*outcomes.params, outcome),
    )


def pipeline_sql(
    *, first_day: date, last_day: date, as_of: datetime, cohort: CohortFilter, columns: str
) -> Query:
    """Open opportunities at as_of closing in [first_day, last_day]; ``columns`` to select."""
    params: dict[str, Any] = {"first_day": first_day, "last_day": last_day, "as_of": as_of}
    sql = f"""
    SELECT {columns} FROM {LEAD} l
    WHERE l.opportunity_at IS NOT NULL AND l.opportunity_at <= %(as_of)s
      AND (l.closed_at IS NULL OR l.closed_at > %(as_of)s)
      AND l.expected_close BETWEEN %(first_day)s AND %(last_day)s
      AND l.amount IS NOT NULL
      AND l.stage IN ('opportunity', 'won', 'lost')
      {cohort.sql(params)}"""  # noqa: S608 - table names and placeholders only; values are bound
    return bind(sql, params)
