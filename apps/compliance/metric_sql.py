"""The SQL twin of metrics.py: each metric of the catalogue as one set-based query.

Used by apps/compliance/selectors.py only. ``outcomes_sql`` builds, for one commitment
*kind* (its commitment in each SLA version in force during the period), period and
as_of, a query with one row per measured MQL event:

    (event_id, lead_id, mql_at, due_at, fact_at, outcome, hours, version_id)

``outcome`` is met / missed / pending exactly as metrics.py classifies the event;
``hours`` is the business hours from mql_at to first contact (first_contact_time only,
in the calendar of the event's version); ``version_id`` the version it is judged under.
The selectors aggregate it per version (counts, then kind_metrics.kind_result pools them and
weighs the targets; percentile_cont over all) or list its leads.

Decisions, the same as the reference functions unless said otherwise:

* events = rows of the per-MQL-event fact table (MqlEventFact, apps/compliance/facts.py)
  of kind "mql" whose mql_at is in [period.start, period.end) and <= as_of: an index range
  scan of (kind, mql_at) (``fact_events_sql``). Each row carries the event's window end
  (the lead's next MQL event), the *version* it is judged under (its clocks' version, else
  the signed version in force at its mql_at) and the *first* facts of its window;
* cohort = those events joined to their own version's commitment of the kind: events
  whose version lacks the kind are left out;
* touches, dispositions and the SQL stage count inside the event's window (from mql_at,
  inclusive, to the next MQL event, exclusive) and at or before as_of. The row stores the
  first touch, the N-th touch, the first final disposition and the conversion of the
  window ever seen; as these are the first ones, "as of T" is a comparison with T: one
  at or before T is the first known at T, one after T means none was known at T (the N-th
  touch: N touches by T iff the N-th is at or before T);
* the clock metrics (first contact, follow-up cadence, disposition) measure the
  events that have a clock of their version's commitment: due times come from the
  clock, computed once at MQL time, and the clock exists only when the commitment's
  segment matched the lead at MQL time (apps.sla.clocks.clocks_open). The row holds the
  due instant of the event's first clock of each clock kind, which is the commitment's
  when it is its version's only one of that metric (``sole``); otherwise the clock row of
  (event, commitment) is looked up on its unique index. Likewise the row's N-th touch is
  for its version's first cadence commitment's N: another N counts the event's touches
  in the raw activities;
* business hours to first contact: the row's business seconds (computed when the row was
  written, in the calendar of the event's version, as the reference does);
* the other metrics apply each version's segment to the lead as it is now;
* an event converted when the lead reached SQL inside its window: the lead's sql_at
  (its first SQL time) when it lies there, else the first StageChange to "sql" there
  (the row's sql_at);
* pipeline_coverage: leads with an opportunity_at, stage opportunity / won / lost,
  open at as_of, expected_close within the quarter of the period's first day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from apps.compliance.metrics import FINAL_OUTCOMES, Metric
from apps.compliance.models import MqlEventFact
from apps.dispositions.models import Disposition
from apps.leads.field_conditions import LEAD_TEXT_COLUMNS, FieldCondition, is_number
from apps.leads.models import Activity, Lead, StageChange
from apps.mql.models import MqlEvent
from apps.mql.rules import NUMERIC_FIELDS
from apps.sla.models import Commitment, SlaClock, SlaVersion

LEAD = Lead._meta.db_table
EVENT = MqlEvent._meta.db_table
ACTIVITY = Activity._meta.db_table
CLOCK = SlaClock._meta.db_table
VERSION = SlaVersion._meta.db_table
DISPOSITION = Disposition._meta.db_table
STAGE_CHANGE = StageChange._meta.db_table
FACT = MqlEventFact._meta.db_table
COMMITMENT = Commitment._meta.db_table

FINAL = tuple(sorted(FINAL_OUTCOMES))
CLOCK_METRICS = frozenset(
    {Metric.FIRST_CONTACT_TIME, Metric.FOLLOW_UP_CADENCE, Metric.DISPOSITION_TIME}
)
# Lead columns a segment condition can test in SQL; others go through Python.
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

    def sql(self, params: dict[str, Any], *, with_segment: bool = True, on: str = "l") -> str:
        """The filters as ``AND …`` lines on the lead ``l``; the owner and source ones on
        another alias with ``on`` (a fact row ``f``, which holds the lead's owner and source
        now); the segment reads the lead's fields and always ``l``."""
        parts = []
        if self.owner_id is not None:
            params["owner_id"] = self.owner_id
            parts.append(f"AND {on}.owner_id = %(owner_id)s")
        if self.source is not None:
            params["source"] = self.source
            parts.append(f"AND {on}.source = %(source)s")
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
        if name in LEAD_TEXT_COLUMNS:
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


@dataclass(frozen=True)
class VersionTerm:
    """One SLA version's commitment of the kind measured: the events judged under that
    version join it (and its segment, for the metrics that read one, selects among them)."""

    version_id: int
    commitment_id: int
    touches: int = 1
    days: int = 1
    segment_sql: str = ""
    segment_params: tuple[Any, ...] = ()
    segment_lead_ids: tuple[int, ...] | None = None

    @property
    def has_segment(self) -> bool:
        return bool(self.segment_sql) or self.segment_lead_ids is not None


def _segment_case(terms: Sequence[VersionTerm], params: dict[str, Any], prefix: str = "") -> str:
    """``AND CASE version WHEN v THEN <its segment> ... END`` over the cohort row ``c`` and
    its lead ``l``; empty when no version's commitment has a segment."""
    if not any(term.has_segment for term in terms):
        return ""
    branches = []
    for index, term in enumerate(terms):
        if not term.has_segment:
            continue
        params[f"{prefix}sv{index}"] = term.version_id
        tests = []
        if term.segment_sql:
            sql = term.segment_sql
            for position, value in enumerate(term.segment_params):
                params[f"{prefix}s{index}_{position}"] = value
                sql = sql.replace(f"%(seg{position})s", f"%({prefix}s{index}_{position})s")
            tests.append(f"({sql})")
        if term.segment_lead_ids is not None:
            params[f"{prefix}sl{index}"] = list(term.segment_lead_ids)
            tests.append(f"l.id = ANY(%({prefix}sl{index})s)")
        branches.append(f"WHEN %({prefix}sv{index})s THEN {' AND '.join(tests)}")
    return f"AND CASE c.version_id {' '.join(branches)} ELSE true END"


# The due instant each clock metric reads from the fact row.
_DUE_COLUMN = {
    Metric.FIRST_CONTACT_TIME: "first_contact_due",
    Metric.FOLLOW_UP_CADENCE: "follow_up_due",
    Metric.DISPOSITION_TIME: "disposition_due",
}


def fact_events_sql(cohort: CohortFilter, params: dict[str, Any]) -> str:
    """The period's MQL events from the fact table, one row each: an index range scan of
    (kind, mql_at), with the facts every metric reads (each the first of its kind in the
    event's window, judged against as_of by the caller) and the version it is judged under.

    The owner and source filters read the lead as it is now from the row itself, which the
    hand-off pipeline keeps current with the lead (its owner, source and campaign): no
    lookup of the lead per event (at 1M leads a quarter's filtered cohort spent ~0.3 s of
    each query on them). Needs params period_start, period_end, as_of.
    """
    filters = cohort.sql(params, with_segment=False, on="f")
    return f"""
      SELECT f.event_id, f.lead_id, f.mql_at, f.window_end, f.sla_version_id AS version_id,
             f.first_contact_due, f.follow_up_due, f.disposition_due, f.cadence_touches,
             f.first_touch_at, f.nth_touch_at, f.first_contact_business_seconds,
             f.disposition_at, f.disposition_outcome, f.disposition_reason_code_id, f.sql_at,
             f.owner_id
      FROM {FACT} f
      WHERE f.kind = 'mql'
        AND f.mql_at >= %(period_start)s AND f.mql_at < %(period_end)s
        AND f.mql_at <= %(as_of)s
      {filters}"""  # noqa: S608 - table names and placeholders only; values are bound


_FACT_COLUMNS = """c.first_touch_at, c.nth_touch_at, c.cadence_touches,
             c.first_contact_business_seconds, c.disposition_at, c.disposition_outcome,
             c.disposition_reason_code_id, c.sql_at, c.owner_id"""


def _terms_cte(
    terms: Sequence[VersionTerm], params: dict[str, Any], *, metric: str, suffix: str
) -> str:
    """The CTE ``terms<suffix>``: one row per version of the kind (its commitment, touches,
    days) and ``sole``: the commitment is its version's only one of this metric, so the
    fact row's due instant (of the event's first clock of the clock kind) is this
    commitment's."""
    x = suffix
    params[f"t_versions{x}"] = [t.version_id for t in terms]
    params[f"t_commitments{x}"] = [t.commitment_id for t in terms]
    params[f"t_touches{x}"] = [t.touches for t in terms]
    params[f"t_days{x}"] = [t.days for t in terms]
    params[f"metric{x}"] = metric
    # MATERIALIZED: computed once per version, not once per event (inlined, the NOT EXISTS
    # ran four times for each of a month's 60,000 events at 1M leads).
    return f"""
    terms{x} AS MATERIALIZED (
      SELECT t.*, NOT EXISTS (
               SELECT 1 FROM {COMMITMENT} m
               WHERE m.version_id = t.version_id AND m.metric = %(metric{x})s
                 AND m.id <> t.commitment_id) AS sole
      FROM unnest(%(t_versions{x})s::bigint[], %(t_commitments{x})s::bigint[],
                  %(t_touches{x})s::int[], %(t_days{x})s::int[])
        AS t(version_id, commitment_id, touches, days)
    )"""  # noqa: S608 - table names and placeholders only; values are bound


def _cohort_cte(
    terms: Sequence[VersionTerm],
    cohort: CohortFilter,
    params: dict[str, Any],
    *,
    metric: str,
    suffix: str = "",
) -> str:
    """The CTEs ``terms<suffix>`` and ``cohort<suffix>`` of one kind, over ``events`` (the
    caller's CTE of fact_events_sql); ``suffix`` keeps several kinds apart in one statement."""
    x = suffix
    terms_cte = _terms_cte(terms, params, metric=metric, suffix=x)
    if metric in CLOCK_METRICS:
        # The events with a clock of their version's commitment of the kind (it exists only
        # when the commitment's segment matched at MQL time): the fact row's due instant
        # when the commitment is the version's only one of its metric, else the clock's own
        # row (one lookup on the (mql_event, commitment) unique index).
        # The clock lookup is a scalar subquery inside the CASE so that it runs only for a
        # commitment that is not sole (as a lateral join the planner flattened it and looked
        # up every event's clocks).
        due = f"c.{_DUE_COLUMN[metric]}"
        return f"""{terms_cte},
    cohort{x} AS (
      SELECT * FROM (
        SELECT c.event_id, c.lead_id, c.mql_at, c.window_end, c.version_id,
               t.commitment_id, t.touches, t.days,
               CASE WHEN t.sole THEN {due}
                    ELSE (SELECT k.due_at FROM {CLOCK} k
                          WHERE k.mql_event_id = c.event_id
                            AND k.commitment_id = t.commitment_id) END AS due_at,
               {_FACT_COLUMNS}
        FROM events c
        JOIN terms{x} t ON t.version_id = c.version_id
      ) judged
      WHERE judged.due_at IS NOT NULL
    )"""  # noqa: S608 - table names and placeholders only; values are bound
    segment = _segment_case(terms, params, prefix=x)
    lead_join = f"JOIN {LEAD} l ON l.id = c.lead_id" if segment else ""
    return f"""{terms_cte},
    cohort{x} AS (
      -- each event under its own version's commitment of the kind; events whose version
      -- lacks the kind are left out
      SELECT c.event_id, c.lead_id, c.mql_at, c.window_end, c.version_id,
             t.commitment_id, t.touches, t.days, NULL::timestamptz AS due_at, {_FACT_COLUMNS}
      FROM events c
      JOIN terms{x} t ON t.version_id = c.version_id
      {lead_join}
      WHERE true {segment}
    )"""  # noqa: S608 - table names and placeholders only; values are bound


_CLOCK_OUTCOME = """
      CASE WHEN f.fact_at IS NOT NULL
             THEN CASE WHEN f.fact_at <= c.due_at THEN 'met' ELSE 'missed' END
           WHEN %(as_of)s > c.due_at THEN 'missed'
           ELSE 'pending' END"""


def _known(column: str) -> str:
    """A stored first instant as known at as_of: itself when at or before as_of, else NULL
    (the first one ever being later, none was known then)."""
    return f"CASE WHEN {column} <= %(as_of)s THEN {column} END"


def outcomes_sql(
    *,
    metric: str,
    terms: Sequence[VersionTerm],
    period_start: datetime,
    period_end: datetime,
    as_of: datetime,
    cohort: CohortFilter,
) -> Query:
    """Per-event outcomes of one rate or volume metric of a commitment kind (not
    pipeline_coverage): one row per event of the period judged under a version in
    ``terms``, with that version's commitment and parameters, read from the fact table."""
    params: dict[str, Any] = {
        "period_start": period_start,
        "period_end": period_end,
        "as_of": as_of,
    }
    ctes, body = _outcomes_parts(metric=metric, terms=terms, cohort=cohort, params=params)
    sql = f"""WITH events AS MATERIALIZED ({fact_events_sql(cohort, params)}
    ),{ctes.strip()}
{body}"""
    return bind(sql, params)


def kinds_aggregate_sql(
    *,
    kinds: Sequence[tuple[str, Sequence[VersionTerm]]],
    period_start: datetime,
    period_end: datetime,
    as_of: datetime,
    cohort: CohortFilter,
    owners: bool = False,
) -> Query:
    """The counts of several kinds of one period in one statement and one pass over the
    period's fact rows (``kinds``: each kind's metric and terms, in order): periods_aggregate_sql
    of one period, whose rows start with the period index 0."""
    return periods_aggregate_sql(
        periods=[
            PeriodKinds(
                period_start,
                period_end,
                tuple(
                    (str(index), metric, tuple(terms))
                    for index, (metric, terms) in enumerate(kinds)
                ),
                owners,
            )
        ],
        as_of=as_of,
        cohort=cohort,
    )


_LIST = ",\n           "


@dataclass(frozen=True)
class PeriodKinds:
    """One period of periods_aggregate_sql: [start, end), its kinds (each kind's key, metric
    and terms, in order) and whether its clock kinds are also counted per owner."""

    start: datetime
    end: datetime
    kinds: tuple[tuple[str, str, tuple[VersionTerm, ...]], ...]
    owners: bool = False


def periods_aggregate_sql(
    *, periods: Sequence[PeriodKinds], as_of: datetime, cohort: CohortFilter
) -> Query:
    """The counts of several kinds of several periods, all as of ``as_of``, in one statement
    that reads the fact rows of the periods' union once. Rows:

        (period index, kind index, grouping, version_id, owner_id,
         met, missed, pending, median, p90)

    grouping GROUPED_BY_VERSION (one row per version with events in the kind's cohort),
    GROUPED_BY_OWNER (for a period with ``owners``, the sweep's per-rep figures of an open
    period: the clock kinds' counts per owner — the fact row's, the lead's owner now, which
    the hand-off keeps current in the transaction of every reassignment — one row per owner
    with events in the cohort) or TOTAL (first_contact_time only, with its percentiles; none
    when the period has no events). A kind without hours has no total row: its totals are
    the sums of its versions'.

    How: each event row is joined once to every kind's terms of its version and gets one
    outcome column per kind key (NULL when the event is not in that kind's cohort: its
    version lacks the kind, no clock of the commitment, outside the segment, not a
    rejection), the same classification as outcomes_sql's per-event rows; a kind of several
    periods (this week's, month's and quarter's) has one column, its terms the union of the
    periods'. Those narrow rows are counted by distinct combination of version, owner,
    periods and outcomes (a few hundred groups, hashed), then each period's kind counts the
    combinations of its own events under its own versions of the kind (FILTER), per
    version, per owner and in all; the percentiles are one aggregate per period; and a
    VALUES list turns the few aggregated rows into one row per period and kind. The sweep's open week, month and quarter (overlapping periods, so their union is
    one range) are one statement; a month at 1M leads is one pass instead of one per kind
    (see the README's Benchmarks)."""
    if not periods or not all(p.kinds for p in periods):
        raise ValueError("no kinds to measure")
    params: dict[str, Any] = {
        "period_start": min(p.start for p in periods),
        "period_end": max(p.end for p in periods),
        "as_of": as_of,
        "p_starts": [p.start for p in periods],
        "p_ends": [p.end for p in periods],
    }
    # One outcome column per kind, shared by the periods whose terms of it agree on every
    # version both hold (its terms: their union); a column of its own otherwise (a segment
    # the SQL cannot test lists the period's matching leads).
    merged: list[tuple[str, str, dict[int, VersionTerm]]] = []
    column_at: dict[tuple[int, int], int] = {}
    for p, period in enumerate(periods):
        for index, (key, metric, terms) in enumerate(period.kinds):
            if not terms:
                raise ValueError("a commitment kind needs the terms of at least one version")
            if len({t.version_id for t in terms}) < len(terms):
                raise ValueError("a commitment kind has one commitment per version")
            column_at[(p, index)] = _column_for(merged, key, metric, terms)
    ctes, joins, columns, judged, outcomes = [], [], [], [], []
    any_segment = False
    for i, (_key, metric, known) in enumerate(merged):
        terms = list(known.values())
        ctes.append(_terms_cte(terms, params, metric=metric, suffix=f"_{i}").strip())
        joins.append(f"LEFT JOIN terms_{i} t{i} ON t{i}.version_id = v.version_id")
        columns.append(
            f"t{i}.version_id IS NOT NULL AS has{i}, t{i}.sole AS sole{i}, "
            f"t{i}.commitment_id AS commitment{i}, t{i}.touches AS touches{i}, t{i}.days AS days{i}"
        )
        if metric in CLOCK_METRICS:
            # In the cohort when the event has a clock of its version's commitment: the fact
            # row's due instant when the commitment is its version's only one of the metric,
            # else the clock's own row (scalar subquery: looked up only then).
            judged.append(
                f"""CASE WHEN t.has{i} IS NOT TRUE THEN NULL
                    WHEN t.sole{i} THEN c.{_DUE_COLUMN[metric]}
                    ELSE (SELECT k.due_at FROM {CLOCK} k
                          WHERE k.mql_event_id = c.event_id
                            AND k.commitment_id = t.commitment{i}) END AS due{i},
               t.touches{i}, c.mql_at + t.days{i} * interval '24 hours' AS window{i}"""  # noqa: S608 - table names only
            )
        else:
            segment = _segment_case(terms, params, prefix=f"_{i}").removeprefix("AND ")
            any_segment = any_segment or bool(segment)
            judged.append(f"(t.has{i} AND {segment or 'true'}) AS in{i}")
        outcomes.append(f"{_kind_outcome(metric, i)} AS o{i}")
        if metric == Metric.FIRST_CONTACT_TIME:
            # Business seconds mql_at -> first touch, in the calendar of the event's version
            # (computed when the row was written); only for a touch known at as_of.
            outcomes.append(
                f"""CASE WHEN o.due{i} IS NOT NULL AND {_known("o.first_touch_at")} IS NOT NULL
                    THEN o.first_contact_business_seconds / 3600 END AS h{i}"""
            )
    # One period: every event row is in it. Several: a flag per period.
    several = len(periods) > 1
    flags = []
    if several:
        for p, period in enumerate(periods):
            params[f"p_start_{p}"], params[f"p_end_{p}"] = period.start, period.end
            flags.append(f"(o.mql_at >= %(p_start_{p})s AND o.mql_at < %(p_end_{p})s) AS in_p{p}")
    counts, hours, unpivot = [], [], []
    for p, period in enumerate(periods):
        for index, (_key, metric, terms) in enumerate(period.kinds):
            i, x = column_at[(p, index)], f"{p}_{index}"
            # The period's own events (flag), under its own versions of the kind: an event
            # judged under a version not in force during the period (its clocks' version,
            # before a re-dating) is left out, as measuring the period alone does.
            gates = [f"{{0}}.in_p{p}"] if several else []
            if len(terms) < len(merged[i][2]):
                params[f"pv_{x}"] = [t.version_id for t in terms]
                gates.append(f"{{0}}.version_id = ANY(%(pv_{x})s)")
            flag = "".join(f"{g.format('c')} AND " for g in gates)
            counts.append(
                ",\n           ".join(
                    f"COALESCE(sum(c.n) FILTER (WHERE {flag}c.o{i} = '{outcome}'), 0)::bigint"
                    f" AS {outcome}_{x}"
                    for outcome in ("met", "missed", "pending")
                )
            )
            median = "NULL::float8, NULL::float8"
            if metric == Metric.FIRST_CONTACT_TIME:
                where = ""
                if gates:
                    where = f" FILTER (WHERE {' AND '.join(g.format('j') for g in gates)})"
                hours.append(
                    f"""percentile_cont(0.5) WITHIN GROUP (ORDER BY j.h{i}){where} AS median_{x},
           percentile_cont(0.9) WITHIN GROUP (ORDER BY j.h{i}){where} AS p90_{x}"""
                )
                median = f"h.median_{x}, h.p90_{x}"
            by_owner = "true" if period.owners and metric in CLOCK_METRICS else "false"
            total = "true" if metric == Metric.FIRST_CONTACT_TIME else "false"
            unpivot.append(
                f"({p}, {index}, a.met_{x}, a.missed_{x}, a.pending_{x}, {median}, "
                f"{by_owner}, {total})"
            )
    owners = any(p.owners for p in periods)
    if owners:
        grouping = "GROUPING SETS ((c.version_id), (c.owner_id), ())"
        head = "GROUPING(c.version_id, c.owner_id) AS grp, c.version_id, c.owner_id"
    else:
        grouping = "GROUPING SETS ((c.version_id), ())"
        head = "1 + 2 * GROUPING(c.version_id) AS grp, c.version_id, NULL::bigint AS owner_id"
    # The outcome columns of an event row, counted by distinct combination (a few hundred
    # rows), then per version / owner / in all from those.
    combo = ["j.version_id", *(["j.owner_id"] if owners else [])]
    combo += [f"j.in_p{p}" for p in range(len(periods)) if several]
    combo += [f"j.o{i}" for i in range(len(merged))]
    hours_cte = hours_join = ""
    if hours:
        hours_cte = f""",
    hours AS (SELECT {_LIST.join(hours)} FROM judged j)"""  # noqa: S608 - generated SQL, no values
        hours_join = f"LEFT JOIN hours h ON a.grp = {TOTAL}"
    lead_join = f"LEFT JOIN {LEAD} l ON l.id = c.lead_id" if any_segment else ""
    # Every kind's terms of a version in one row: one hash join per event, not one per kind.
    params["versions"] = sorted({v for _k, _m, known in merged for v in known})
    # The events are read once, by ``judged``: inlined (NOT MATERIALIZED), no copy of the
    # wide rows (10-20 % of a month at 1M leads); test_fact_reads holds the range scan.
    sql = f"""WITH events AS NOT MATERIALIZED ({fact_events_sql(cohort, params)}
    ),{",".join(ctes)},
    versions AS MATERIALIZED (
      SELECT v.version_id, {_LIST.join(columns)}
      FROM unnest(%(versions)s::bigint[]) AS v(version_id)
      {" ".join(joins)}
    ),
    judged AS (
      SELECT o.version_id, o.owner_id, {", ".join([*flags, *outcomes])}
      FROM (
        SELECT c.*, {", ".join(judged)}
        FROM events c
        LEFT JOIN versions t ON t.version_id = c.version_id
        {lead_join}
      ) o
    ),
    combos AS (
      SELECT {", ".join(combo)}, count(*) AS n FROM judged j GROUP BY {", ".join(combo)}
    ){hours_cte}
    SELECT k.period, k.kind, a.grp, a.version_id, a.owner_id, k.met, k.missed, k.pending,
           k.median, k.p90
    FROM (
      SELECT {head},
           {_LIST.join(counts)}
      FROM combos c
      GROUP BY {grouping}
    ) a
    {hours_join}
    CROSS JOIN LATERAL (VALUES {", ".join(unpivot)})
      AS k(period, kind, met, missed, pending, median, p90, by_owner, total)
    WHERE (a.grp = {GROUPED_BY_VERSION} AND k.met + k.missed + k.pending > 0)
       OR (a.grp = {GROUPED_BY_OWNER} AND k.by_owner AND k.met + k.missed + k.pending > 0)
       OR (a.grp = {TOTAL} AND k.total)"""  # noqa: S608 - generated SQL, no values
    return bind(sql, params)


def _column_for(
    merged: list[tuple[str, str, dict[int, VersionTerm]]],
    key: str,
    metric: str,
    terms: Sequence[VersionTerm],
) -> int:
    """The index in ``merged`` of the outcome column the kind's terms join (extending its
    terms), or of a new one."""
    for index, (known_key, known_metric, known) in enumerate(merged):
        if (known_key, known_metric) == (key, metric) and all(
            known.get(t.version_id, t) == t for t in terms
        ):
            known.update((t.version_id, t) for t in terms)
            return index
    merged.append((key, metric, {t.version_id: t for t in terms}))
    return len(merged) - 1


def _kind_outcome(metric: str, i: int) -> str:
    """The outcome of one event row ``o`` for the kind ``i`` of kinds_aggregate_sql: met /
    missed / pending as outcomes_sql classifies it, NULL when the event is not in the
    kind's cohort."""
    if metric in CLOCK_METRICS:
        gate = f"WHEN o.due{i} IS NULL THEN NULL"
    else:
        gate = f"WHEN o.in{i} IS NOT TRUE THEN NULL"
    if metric == Metric.MQL_VOLUME:
        return f"CASE {gate} ELSE 'met' END"
    if metric == Metric.MQL_TO_SQL_RATE:
        return f"CASE {gate} WHEN o.sql_at <= %(as_of)s THEN 'met' ELSE 'missed' END"
    if metric in (Metric.FIRST_CONTACT_TIME, Metric.DISPOSITION_TIME):
        fact = _known(
            "o.first_touch_at" if metric == Metric.FIRST_CONTACT_TIME else "o.disposition_at"
        )
        return f"""CASE {gate}
             WHEN {fact} IS NOT NULL
               THEN CASE WHEN {fact} <= o.due{i} THEN 'met' ELSE 'missed' END
             WHEN %(as_of)s > o.due{i} THEN 'missed'
             ELSE 'pending' END"""
    if metric == Metric.FOLLOW_UP_CADENCE:
        # As outcomes_sql: N touches by min(as_of, window) <=> the row's N-th touch is at or
        # before it (the row's N); another N counts the touches in the raw activities.
        until = f"LEAST(%(as_of)s, o.window{i})"
        return f"""CASE {gate}
             WHEN o.disposition_at <= {until}
               OR CASE WHEN o.cadence_touches = o.touches{i}
                       THEN COALESCE(o.nth_touch_at <= {until}, false)
                       ELSE (SELECT count(*) FROM {ACTIVITY} a
                             WHERE a.lead_id = o.lead_id AND a.family = 'sales_touch'
                               AND a.occurred_at >= o.mql_at AND a.occurred_at <= {until}
                               AND (o.window_end IS NULL OR a.occurred_at < o.window_end))
                            >= o.touches{i} END
               THEN 'met'
             WHEN %(as_of)s > o.window{i} THEN 'missed'
             ELSE 'pending' END"""  # noqa: S608 - table names and placeholders only
    if metric == Metric.REJECTION_REASON_COVERAGE:
        # The first final disposition known at as_of decides (metrics.rejection_reason_coverage).
        return f"""CASE {gate}
             WHEN (o.disposition_at <= %(as_of)s AND o.disposition_outcome = 'rejected')
               IS NOT TRUE THEN NULL
             WHEN o.disposition_reason_code_id IS NOT NULL THEN 'met' ELSE 'missed' END"""
    raise ValueError(f"no outcomes query for metric {metric!r}")


def _outcomes_parts(
    *,
    metric: str,
    terms: Sequence[VersionTerm],
    cohort: CohortFilter,
    params: dict[str, Any],
    suffix: str = "",
) -> tuple[str, str]:
    """(the CTEs of one kind after ``events``, the SELECT of its per-event outcomes)."""
    if not terms:
        raise ValueError("a commitment kind needs the terms of at least one version")
    cte = _cohort_cte(terms, cohort, params, metric=metric, suffix=suffix)
    cohort_name = f"cohort{suffix}"
    if metric == Metric.MQL_VOLUME:
        body = """
    SELECT c.event_id, c.lead_id, c.mql_at, NULL::timestamptz AS due_at,
           NULL::timestamptz AS fact_at, 'met' AS outcome, NULL::float8 AS hours, c.version_id,
           c.owner_id
    FROM cohort c"""
    elif metric == Metric.MQL_TO_SQL_RATE:
        # sql_at: the event's conversion inside its window (the lead's first SQL time when
        # it lies there, else the first stage change to SQL there).
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, NULL::timestamptz AS due_at,
           {_known("c.sql_at")} AS fact_at,
           CASE WHEN c.sql_at <= %(as_of)s THEN 'met' ELSE 'missed' END AS outcome,
           NULL::float8 AS hours, c.version_id, c.owner_id
    FROM cohort c"""  # noqa: S608 - column names and placeholders only; values are bound
    elif metric == Metric.FIRST_CONTACT_TIME:
        # Business seconds mql_at -> first touch, in the calendar of the event's version
        # (computed when the row was written); only for a touch known at as_of.
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, c.due_at, f.fact_at,{_CLOCK_OUTCOME} AS outcome,
           CASE WHEN f.fact_at IS NOT NULL
                THEN c.first_contact_business_seconds / 3600 END AS hours,
           c.version_id, c.owner_id
    FROM cohort c
    CROSS JOIN LATERAL (SELECT {_known("c.first_touch_at")} AS fact_at) f"""  # noqa: S608 - column names and placeholders only; values are bound
    elif metric == Metric.DISPOSITION_TIME:
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, c.due_at, f.fact_at,{_CLOCK_OUTCOME} AS outcome,
           NULL::float8 AS hours, c.version_id, c.owner_id
    FROM cohort c
    CROSS JOIN LATERAL (SELECT {_known("c.disposition_at")} AS fact_at) f"""  # noqa: S608 - column names and placeholders only; values are bound
    elif metric == Metric.FOLLOW_UP_CADENCE:
        # N touches by min(as_of, window end) <=> the N-th touch of the event's window is
        # at or before it. The fact row holds the N-th touch for its version's first cadence
        # commitment's N; another N (a second cadence commitment in one version) counts the
        # touches in the raw activities.
        body = f"""
    SELECT c.event_id, c.lead_id, c.mql_at, w.window_end AS due_at, NULL::timestamptz AS fact_at,
           CASE WHEN n.enough OR c.disposition_at <= LEAST(%(as_of)s, w.window_end) THEN 'met'
                WHEN %(as_of)s > w.window_end THEN 'missed'
                ELSE 'pending' END AS outcome,
           NULL::float8 AS hours, c.version_id, c.owner_id
    FROM cohort c
    CROSS JOIN LATERAL (
      -- D days are D x 24 h, as metrics.follow_up_outcome: an interval of hours, not of days
      -- (no calendar day, so no DST shift), and integer arithmetic (numeric seconds through
      -- make_interval cost a third of a quarter's sweep at 1M leads)
      SELECT c.mql_at + c.days * interval '24 hours' AS window_end
    ) w
    CROSS JOIN LATERAL (
      SELECT CASE WHEN c.cadence_touches = c.touches
                  THEN COALESCE(c.nth_touch_at <= LEAST(%(as_of)s, w.window_end), false)
                  ELSE (SELECT count(*) FROM {ACTIVITY} a
                        WHERE a.lead_id = c.lead_id AND a.family = 'sales_touch'
                          AND a.occurred_at >= c.mql_at
                          AND a.occurred_at <= LEAST(%(as_of)s, w.window_end)
                          AND (c.window_end IS NULL OR a.occurred_at < c.window_end))
                       >= c.touches END AS enough
    ) n"""  # noqa: S608 - table names and placeholders only; values are bound
    elif metric == Metric.REJECTION_REASON_COVERAGE:
        # The first final disposition known at as_of decides (metrics.rejection_reason_coverage).
        body = """
    SELECT c.event_id, c.lead_id, c.mql_at, NULL::timestamptz AS due_at,
           c.disposition_at AS fact_at,
           CASE WHEN c.disposition_reason_code_id IS NOT NULL THEN 'met' ELSE 'missed' END
             AS outcome,
           NULL::float8 AS hours, c.version_id, c.owner_id
    FROM cohort c
    WHERE c.disposition_at <= %(as_of)s AND c.disposition_outcome = 'rejected'"""
    else:
        raise ValueError(f"no outcomes query for metric {metric!r}")
    return cte, body.replace("FROM cohort c", f"FROM {cohort_name} c")


# The grouping of a kinds_aggregate_sql row with owners: GROUPING(version_id, owner_id).
GROUPED_BY_VERSION, GROUPED_BY_OWNER, TOTAL = 1, 2, 3

_COUNTS = """count(*) FILTER (WHERE o.outcome = 'met'),
           count(*) FILTER (WHERE o.outcome = 'missed'),
           count(*) FILTER (WHERE o.outcome = 'pending')"""
_PERCENTILES = """percentile_cont(0.5) WITHIN GROUP (ORDER BY o.hours),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY o.hours)"""


def aggregate_sql(outcomes: Query) -> Query:
    """Counts by outcome per version, and over all of them the percentile_cont (linear
    interpolation between closest ranks) of the hours, NULLs skipped, in one pass:

        (is_total, version_id, met, missed, pending, median_hours, p90_hours)

    one row per version with events, then the total row (is_total 1; the only one whose
    percentiles are read). No row per version when the cohort is empty."""
    sql = f"""
    SELECT GROUPING(o.version_id), o.version_id, {_COUNTS}, {_PERCENTILES}
    FROM ({outcomes.sql}) o
    GROUP BY GROUPING SETS ((o.version_id), ())"""  # noqa: S608 - table names and placeholders only; values are bound
    return Query(sql, outcomes.params)


def owner_counts_sql(outcomes: Query) -> Query:
    """(owner_id, met, missed, pending) per current owner of the measured leads, one row each:
    the outcome rows carry their fact row's owner (the lead's now, kept current by the
    hand-off pipeline), so no lead or fact lookup per event."""
    sql = f"""
    SELECT o.owner_id, {_COUNTS}
    FROM ({outcomes.sql}) o
    GROUP BY o.owner_id"""  # noqa: S608 - table names and placeholders only; values are bound
    return Query(sql, outcomes.params)


def first_contact_hours_sql(
    *,
    terms: Sequence[VersionTerm],
    period_start: datetime,
    period_end: datetime,
    as_of: datetime,
    cohort: CohortFilter,
) -> Query:
    """The ``hours`` of outcomes_sql for a first_contact_time kind, alone: the business hours
    to first contact of the period's events in the kind's cohort (a clock of their version's
    commitment) whose first touch is known at as_of — its rows where hours is set, without
    the other columns (a quarter's histogram at 1M leads reads ~130k fact rows; the whole
    outcome rows cost twice the time)."""
    if not terms:
        raise ValueError("a commitment kind needs the terms of at least one version")
    params: dict[str, Any] = {
        "period_start": period_start,
        "period_end": period_end,
        "as_of": as_of,
    }
    terms_cte = _terms_cte(terms, params, metric=Metric.FIRST_CONTACT_TIME, suffix="")
    sql = f"""WITH {terms_cte.strip()}
    SELECT c.first_contact_business_seconds / 3600 AS hours
    FROM ({fact_events_sql(cohort, params)}
    ) c
    JOIN terms t ON t.version_id = c.version_id
    WHERE c.first_touch_at <= %(as_of)s
      AND CASE WHEN t.sole THEN c.first_contact_due
               ELSE (SELECT k.due_at FROM {CLOCK} k
                     WHERE k.mql_event_id = c.event_id
                       AND k.commitment_id = t.commitment_id) END IS NOT NULL"""  # noqa: S608 - table names and placeholders only; values are bound
    return bind(sql, params)


def hour_bins_sql(outcomes: Query, edges: Sequence[float]) -> Query:
    """The hours column where set (first_contact_time: the contacted MQL events) as a
    histogram and its percentiles, in one row: (counts per bin, median, p90). Bin i is
    [edges[i], edges[i+1]), the last one open-ended; values below edges[0] count in the first
    (dashboards.calculations.hour_bins); the percentiles are percentile_cont's, as the
    kind's tile."""
    if not edges:
        raise ValueError("an hour histogram needs at least one edge")
    # The hours are read once (MATERIALIZED: by the bins and the percentiles).
    sql = f"""
    WITH h AS MATERIALIZED (SELECT o.hours FROM ({outcomes.sql}) o WHERE o.hours IS NOT NULL)
    SELECT array_agg(COALESCE(b.n, 0) ORDER BY g.i), max(p.median), max(p.p90)
    FROM generate_series(0, %s - 1) AS g(i)
    LEFT JOIN (
      SELECT GREATEST(width_bucket(h.hours, %s::float8[]), 1) - 1 AS i, count(*) AS n
      FROM h GROUP BY 1
    ) b ON b.i = g.i
    CROSS JOIN (
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY h.hours) AS median,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY h.hours) AS p90
      FROM h
    ) p"""  # noqa: S608 - table names and placeholders only; values are bound
    return Query(sql, (*outcomes.params, len(edges), list(edges)))


def event_outcomes_sql(outcomes: Query) -> Query:
    """(event_id, outcome) of every measured MQL event, in event order."""
    return Query(
        f"SELECT o.event_id, o.outcome FROM ({outcomes.sql}) o ORDER BY o.mql_at, o.event_id",  # noqa: S608 - table names and placeholders only; values are bound
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
