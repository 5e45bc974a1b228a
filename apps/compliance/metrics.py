"""Reference implementation of the SLA compliance metrics (DESIGN.md, "Metric semantics").

Pure module: no ORM, no settings, no clock. Functions take plain facts (what the SQL
selectors select) and an ``as_of`` moment, and use only facts known at ``as_of``:

* an MQL whose ``mql_at`` is after ``as_of`` is dropped from the cohort;
* touches, dispositions and ``sql_at`` after ``as_of`` are ignored;
* a touch or disposition outside the event's window (below) belongs to another life
  of the lead (e.g. before it was returned to nurture and re-qualified) and never counts.

Boundaries are inclusive on the "known" side: a fact at exactly ``as_of`` is known,
a touch at exactly the due time is on time, and a clock whose due time equals
``as_of`` is still pending (it may yet be met at that very instant).

The cohort passed in is already the period's cohort (MQL *events* whose ``mql_at``
is in the period: a lead that qualified twice is two ``MqlFacts``); only
``mql_volume`` looks at the period, to pro-rate its target.

An event owns the facts of its *window*: at or after its ``mql_at`` and before the
lead's next MQL event (``next_mql_at``, exclusive). A touch, a disposition or the
lead reaching SQL outside that window belongs to another life of the lead and never
counts for this event; an event *converted* when SQL came inside its window.

"D days" is D x 24 h of elapsed time, whatever the calendar (a DST day is not longer).

A period under several SLA versions is scored once per commitment *kind*, each event
under its own version's commitment, with time-weighted targets: kind_metrics.py, built
on the functions here.

Rate values are fractions 0-1 (0.8 = 80%); targets and thresholds use the same unit.
Every datetime is compared in UTC: Python compares two datetimes sharing a tzinfo
by wall-clock time, which is wrong inside a DST fold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from apps.compliance.periods import Period, PeriodKind, elapsed_fraction

__all__ = [
    "FINAL_OUTCOMES",
    "RESPONSE_BUCKETS",
    "Metric",
    "MetricResult",
    "MqlFacts",
    "OpportunityFacts",
    "Outcome",
    "Status",
    "coverage_result",
    "disposition_at",
    "disposition_outcome",
    "disposition_time",
    "escalation_episodes",
    "first_contact_at",
    "first_contact_outcome",
    "first_contact_outcomes",
    "first_contact_time",
    "follow_up_cadence",
    "follow_up_outcome",
    "known_cohort",
    "mql_to_sql_rate",
    "mql_volume",
    "open_amount",
    "percentile",
    "pipeline_coverage",
    "rate_result",
    "rejection_reason_coverage",
    "response_bucket",
    "status_for",
    "volume_result",
]

DISPOSITION_OUTCOMES = frozenset({"accepted", "rejected", "nurture", "working"})
# "working" means contacted and progressing: it does not close the disposition clock.
FINAL_OUTCOMES = frozenset({"accepted", "rejected", "nurture"})

RESPONSE_BUCKETS = ("< 5 min", "< 1 h", "< 4 h", "< 24 h", "later", "none")
_BUCKET_LIMITS = ((5 * 60, "< 5 min"), (3600, "< 1 h"), (4 * 3600, "< 4 h"), (24 * 3600, "< 24 h"))


class Metric(StrEnum):
    MQL_VOLUME = "mql_volume"
    MQL_TO_SQL_RATE = "mql_to_sql_rate"
    FIRST_CONTACT_TIME = "first_contact_time"
    FOLLOW_UP_CADENCE = "follow_up_cadence"
    DISPOSITION_TIME = "disposition_time"
    REJECTION_REASON_COVERAGE = "rejection_reason_coverage"
    PIPELINE_COVERAGE = "pipeline_coverage"


class Status(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    GREY = "grey"


class Outcome(StrEnum):
    """Per-lead classification behind a rate, for drill-down lists."""

    MET = "met"
    MISSED = "missed"
    PENDING = "pending"


@dataclass(frozen=True)
class MqlFacts:
    """What is known about one MQL event of a cohort; every datetime aware."""

    lead_id: int
    mql_at: datetime
    # The first time the lead reached SQL at or after mql_at; it converted this event only
    # when it lies inside the event's window (before next_mql_at).
    sql_at: datetime | None = None
    # Sales touches, any order; only those inside the event's window count.
    touches: tuple[datetime, ...] = ()
    # (occurred_at, outcome in accepted|rejected|nurture|working, has_reason_code);
    # ties on occurred_at keep the given order (selectors pass them in id order).
    dispositions: tuple[tuple[datetime, str, bool], ...] = ()
    # Due times of the SLA clocks, computed once at MQL time with the business
    # calendar; None when no clock of that kind applies to this MQL.
    first_contact_due: datetime | None = None
    disposition_due: datetime | None = None
    # Business time mql_at -> first contact, computed by the caller with the calendar.
    first_contact_business_seconds: float | None = None
    segment: Mapping[str, Any] = field(default_factory=dict)  # reporting only
    # The MQL event; outcomes are keyed by it (by lead_id when None: one event per lead).
    event_id: int | None = None
    # mql_at of the lead's next MQL event: this event's window ends there (exclusive).
    next_mql_at: datetime | None = None

    @property
    def key(self) -> int:
        """What outcomes are keyed by: the event id, else the lead id."""
        return self.event_id if self.event_id is not None else self.lead_id

    def __post_init__(self) -> None:
        _require_aware(self.mql_at, "mql_at")
        for name in ("sql_at", "first_contact_due", "disposition_due", "next_mql_at"):
            value = getattr(self, name)
            if value is not None:
                _require_aware(value, name)
        for touch in self.touches:
            _require_aware(touch, "touch")
        for occurred_at, outcome, _has_reason in self.dispositions:
            _require_aware(occurred_at, "disposition occurred_at")
            if outcome not in DISPOSITION_OUTCOMES:
                raise ValueError(
                    f"unknown disposition outcome {outcome!r} for lead {self.lead_id}; "
                    f"expected one of {sorted(DISPOSITION_OUTCOMES)}"
                )


@dataclass(frozen=True)
class OpportunityFacts:
    """One opportunity for pipeline coverage; ``closed_at`` is when it was won or lost."""

    lead_id: int
    amount: Decimal
    expected_close: date | None
    opportunity_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True)
class MetricResult:
    """One metric for one period as of one moment, with what the dashboards show."""

    metric: str
    value: float | None
    numerator: float
    denominator: float
    target: float
    yellow_threshold: float
    status: Status
    pending: int = 0
    # Pro-rated target for mql_volume in an open period; equal to target otherwise.
    effective_target: float | None = None
    # first_contact_time only, business hours, over the events contacted by as_of.
    median_hours: float | None = None
    p90_hours: float | None = None
    # event (MqlFacts.key) -> met/missed/pending, for rate metrics (drill-down).
    outcomes: Mapping[int, Outcome] = field(default_factory=lambda: MappingProxyType({}))
    # The SLA version(s) the figure was measured under (Terms.number), oldest first;
    # empty when scored without version terms.
    versions: tuple[int, ...] = ()


def status_for(
    value: float | Fraction | None, *, target: float | Fraction, yellow_threshold: float | Fraction
) -> Status:
    """RAG status of a value where more is better: green at or above the target,
    yellow at or above the yellow threshold, red below it, grey when value is None."""
    if value is None:
        return Status.GREY
    if value >= target:
        return Status.GREEN
    if value >= yellow_threshold:
        return Status.YELLOW
    return Status.RED


# --- per-lead facts ---------------------------------------------------------------


def first_contact_at(f: MqlFacts, as_of: datetime) -> datetime | None:
    """First sales touch of the event's window known at as_of: in ``[mql_at, as_of]`` and
    before the lead's next MQL event; None when none is known yet."""
    touches = _known_touches(f, _utc(as_of))
    return touches[0] if touches else None


def disposition_at(f: MqlFacts, as_of: datetime) -> datetime | None:
    """First final disposition (accepted, rejected, nurture) in ``[mql_at, as_of]`` and
    before the lead's next MQL event.

    Dispositions outside that window belong to another MQL event of the same lead (one
    returned to nurture and re-qualified) and do not close this event's clock, just as
    touches outside it don't count. "working" never counts. None when none.
    """
    first = _first_final_disposition(f, _utc(as_of))
    return first[0] if first else None


def first_contact_outcome(f: MqlFacts, as_of: datetime) -> Outcome | None:
    """Met when first contact <= due; missed when later, or when none and as_of > due;
    pending otherwise. None when the MQL has no first-contact clock (no due)."""
    return _clock_outcome(first_contact_at(f, as_of), f.first_contact_due, as_of)


def disposition_outcome(f: MqlFacts, as_of: datetime) -> Outcome | None:
    """Like ``first_contact_outcome`` on ``disposition_at`` vs ``disposition_due``."""
    return _clock_outcome(disposition_at(f, as_of), f.disposition_due, as_of)


def follow_up_outcome(f: MqlFacts, *, touches: int, days: int, as_of: datetime) -> Outcome:
    """Met when >= ``touches`` touches, or a final disposition, fall in the window
    ``[mql_at, mql_at + days]`` (and in the event's own window, before the lead's next
    MQL event) and are known by as_of; missed when the window is over (as_of > its end)
    without either; pending otherwise.

    ``days`` are D x 24 h of elapsed time (DESIGN's "D days"; what ``mql_at +
    make_interval(secs => D * 86400)`` gives in SQL), never calendar or business days: a
    window across a DST change still lasts D x 24 h.
    """
    _check_cadence(touches, days)
    now = _utc(as_of)
    mql_at = _utc(f.mql_at)
    window_end = mql_at + timedelta(days=days)
    known_until = min(now, window_end)
    in_window = sum(1 for t in f.touches if _in_window(f, _utc(t), known_until))
    if in_window >= touches:
        return Outcome.MET
    final = _first_final_disposition(f, known_until)
    if final is not None:
        return Outcome.MET
    return Outcome.MISSED if now > window_end else Outcome.PENDING


# --- metrics ------------------------------------------------------------------------


def mql_volume(
    cohort: Iterable[MqlFacts],
    *,
    period: Period,
    as_of: datetime,
    target: float,
    yellow_threshold: float,
) -> MetricResult:
    """Number of MQLs in the cohort known at as_of (a count), against the target.

    While the period is open (as_of < period.end) both the target and the yellow
    threshold are pro-rated by the elapsed share of the period in real hours
    (Wednesday noon of a 168 h week: 2.5/7), exactly and without rounding;
    ``effective_target`` reports the pro-rated target and is the denominator.
    Zero MQLs against a positive target is RED, never GREY; the status is GREY only
    when the effective target is 0 (period not started yet, or a zero target).
    ``value`` is always the count.
    """
    return volume_result(
        len(known_cohort(cohort, as_of)),
        period=period,
        as_of=as_of,
        target=target,
        yellow_threshold=yellow_threshold,
    )


def volume_result(
    count: int, *, period: Period, as_of: datetime, target: float, yellow_threshold: float
) -> MetricResult:
    """``mql_volume`` from the count of cohort MQLs known at as_of (what SQL counts).

    The one place the pro-rating and the status of a volume are decided, shared by
    the reference function above and the SQL selectors.
    """
    # Exact rationals, so that 25 MQLs meet 70 * 60 h / 168 h = 25 at Wednesday noon.
    share = elapsed_fraction(period, as_of)
    effective_target = Fraction(target) * share
    effective_yellow = Fraction(yellow_threshold) * share
    if effective_target <= 0:
        status = Status.GREY
    else:
        status = status_for(count, target=effective_target, yellow_threshold=effective_yellow)
    return MetricResult(
        metric=Metric.MQL_VOLUME,
        value=float(count),
        numerator=float(count),
        denominator=float(effective_target),
        target=float(target),
        yellow_threshold=float(yellow_threshold),
        status=status,
        effective_target=float(effective_target),
    )


def mql_to_sql_rate(
    cohort: Iterable[MqlFacts], *, as_of: datetime, target: float, yellow_threshold: float
) -> MetricResult:
    """Cohort MQL events that converted by as_of ÷ cohort MQL events known at as_of.

    An event converted when the lead reached SQL inside its window: at or after its
    ``mql_at``, before the lead's next MQL event, and by as_of. 0-1; None (GREY) when no
    MQLs. Outcomes: met = converted, missed = not (yet) converted — every cohort MQL is
    in the denominator, so pending is always 0.
    """
    now = _utc(as_of)
    outcomes = {
        f.key: (
            Outcome.MET
            if f.sql_at is not None and _in_window(f, _utc(f.sql_at), now)
            else Outcome.MISSED
        )
        for f in known_cohort(cohort, as_of)
    }
    return _rate_result(Metric.MQL_TO_SQL_RATE, outcomes, target, yellow_threshold)


def first_contact_time(
    cohort: Iterable[MqlFacts], *, as_of: datetime, target: float, yellow_threshold: float
) -> MetricResult:
    """Share of first contacts on time: met ÷ (met + missed), pending left out.

    0-1; None (GREY) when nothing is met or missed yet. MQLs without a
    ``first_contact_due`` have no clock for this commitment and are left out
    entirely. ``median_hours``/``p90_hours``: percentile_cont of
    ``first_contact_business_seconds`` / 3600 over the measured MQLs contacted by
    as_of (those whose business seconds are given); None when there are none.
    """
    outcomes, hours = first_contact_outcomes(cohort, as_of)
    return _rate_result(
        Metric.FIRST_CONTACT_TIME,
        outcomes,
        target,
        yellow_threshold,
        median_hours=percentile(hours, 0.5),
        p90_hours=percentile(hours, 0.9),
    )


def first_contact_outcomes(
    cohort: Iterable[MqlFacts], as_of: datetime
) -> tuple[dict[int, Outcome], list[float]]:
    """(event key -> outcome) of the events with a first-contact clock, and the business
    hours to first contact of those contacted by as_of (given
    ``first_contact_business_seconds``): what ``first_contact_time`` rates."""
    measured = [f for f in known_cohort(cohort, as_of) if f.first_contact_due is not None]
    outcomes: dict[int, Outcome] = {}
    hours: list[float] = []
    for f in measured:
        contact = first_contact_at(f, as_of)
        outcomes[f.key] = _clock_outcome(contact, f.first_contact_due, as_of)
        if contact is not None and f.first_contact_business_seconds is not None:
            hours.append(f.first_contact_business_seconds / 3600)
    return outcomes, hours


def follow_up_cadence(
    cohort: Iterable[MqlFacts],
    *,
    touches: int,
    days: int,
    as_of: datetime,
    target: float,
    yellow_threshold: float,
) -> MetricResult:
    """Share of MQLs that got ``touches`` touches (or a final disposition) within
    ``days`` calendar days of mql_at: met ÷ (met + missed), pending left out.

    0-1; None (GREY) when nothing is met or missed yet. See ``follow_up_outcome``.
    """
    _check_cadence(touches, days)
    outcomes = {
        f.key: follow_up_outcome(f, touches=touches, days=days, as_of=as_of)
        for f in known_cohort(cohort, as_of)
    }
    return _rate_result(Metric.FOLLOW_UP_CADENCE, outcomes, target, yellow_threshold)


def disposition_time(
    cohort: Iterable[MqlFacts], *, as_of: datetime, target: float, yellow_threshold: float
) -> MetricResult:
    """Share of final dispositions on time: met ÷ (met + missed), pending left out.

    0-1; None (GREY) when nothing is met or missed yet. MQLs without a
    ``disposition_due`` have no clock and are left out. See ``disposition_at``.
    """
    outcomes: dict[int, Outcome] = {}
    for f in known_cohort(cohort, as_of):
        outcome = disposition_outcome(f, as_of)
        if outcome is not None:
            outcomes[f.key] = outcome
    return _rate_result(Metric.DISPOSITION_TIME, outcomes, target, yellow_threshold)


def rejection_reason_coverage(
    cohort: Iterable[MqlFacts], *, as_of: datetime, target: float, yellow_threshold: float
) -> MetricResult:
    """Rejected cohort MQLs with a reason code ÷ rejected cohort MQLs.

    An MQL counts as rejected when its first final disposition known at as_of (the
    one that sets ``disposition_at``) is "rejected"; it has a reason when that
    disposition carried a code. Using the first final disposition keeps each MQL's
    classification stable as as_of grows (a frozen snapshot never changes), and
    a later correction does not rewrite the feedback the team gave at the time.
    0-1; None (GREY) when no MQL was rejected. Outcomes: met = with a reason, missed
    = without; other MQLs are not listed; pending is always 0.
    """
    now = _utc(as_of)
    outcomes: dict[int, Outcome] = {}
    for f in known_cohort(cohort, as_of):
        first = _first_final_disposition(f, now)
        if first is not None and first[1] == "rejected":
            outcomes[f.key] = Outcome.MET if first[2] else Outcome.MISSED
    return _rate_result(Metric.REJECTION_REASON_COVERAGE, outcomes, target, yellow_threshold)


def pipeline_coverage(
    opportunities: Iterable[OpportunityFacts],
    *,
    quarter: Period,
    as_of: datetime,
    revenue_target: Decimal | float,
    target: float,
    yellow_threshold: float,
) -> MetricResult:
    """Open opportunity amount with expected_close in the quarter ÷ the revenue target.

    A ratio (3.2 = 3.2x coverage), not capped at 1. Open at as_of means
    ``opportunity_at <= as_of`` and not closed by then (``closed_at`` None or after
    as_of); ``expected_close`` is compared with the quarter's local dates,
    first_day..last_day inclusive; opportunities without one are left out.
    None (GREY) when the revenue target is <= 0.
    """
    if quarter.kind is not PeriodKind.QUARTER:
        raise ValueError(f"pipeline_coverage needs a quarter, got a {quarter.kind}")
    return coverage_result(
        open_amount(opportunities, quarter=quarter, as_of=as_of),
        revenue_target=revenue_target,
        target=target,
        yellow_threshold=yellow_threshold,
    )


def open_amount(
    opportunities: Iterable[OpportunityFacts], *, quarter: Period, as_of: datetime
) -> Decimal:
    """Amount of the opportunities open at as_of whose expected close is in the quarter."""
    now = _utc(as_of)
    first_day, last_day = quarter.first_day, quarter.last_day
    return sum(
        (
            Decimal(o.amount)
            for o in opportunities
            if _utc(o.opportunity_at) <= now
            and (o.closed_at is None or _utc(o.closed_at) > now)
            and o.expected_close is not None
            and first_day <= o.expected_close <= last_day
        ),
        Decimal(0),
    )


def coverage_result(
    amount: Decimal,
    *,
    revenue_target: Decimal | float,
    target: float,
    yellow_threshold: float,
) -> MetricResult:
    """``pipeline_coverage`` from the summed open amount (what SQL sums); GREY without a target."""
    revenue = Decimal(str(revenue_target)) if isinstance(revenue_target, float) else revenue_target
    revenue = Decimal(revenue)
    amount = Decimal(amount)
    value = float(amount / revenue) if revenue > 0 else None
    return MetricResult(
        metric=Metric.PIPELINE_COVERAGE,
        value=value,
        numerator=float(amount),
        denominator=float(revenue),
        target=float(target),
        yellow_threshold=float(yellow_threshold),
        status=status_for(value, target=target, yellow_threshold=yellow_threshold),
        effective_target=float(target),
    )


def rate_result(
    metric: str,
    *,
    met: int,
    missed: int,
    pending: int,
    target: float,
    yellow_threshold: float,
    median_hours: float | None = None,
    p90_hours: float | None = None,
    outcomes: Mapping[int, Outcome] | None = None,
) -> MetricResult:
    """A rate metric from its met / missed / pending counts (what SQL counts).

    met ÷ (met + missed), 0-1; None (GREY) when nothing is met or missed yet. The one
    place a rate and its status are decided, shared by the reference functions and
    the SQL selectors, so both give bit-identical values for the same counts.
    """
    denominator = met + missed
    value = met / denominator if denominator else None
    return MetricResult(
        metric=Metric(metric),
        value=value,
        numerator=float(met),
        denominator=float(denominator),
        target=float(target),
        yellow_threshold=float(yellow_threshold),
        status=status_for(value, target=target, yellow_threshold=yellow_threshold),
        pending=pending,
        effective_target=float(target),
        median_hours=median_hours,
        p90_hours=p90_hours,
        outcomes=MappingProxyType(dict(outcomes or {})),
    )


# --- statistics and escalation -----------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Continuous percentile with PostgreSQL ``percentile_cont`` semantics.

    Linear interpolation between the sorted values at rank q * (n - 1), with the same
    float formula as PostgreSQL so results agree to the bit. q in 0-1; None when
    ``values`` is empty. [1, 2, 3, 4]: median 2.5, p90 3.7.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"percentile q must be within 0..1, got {q}")
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    rank = q * (len(ordered) - 1)
    lower = math.floor(rank)
    upper = math.ceil(rank)
    first = ordered[lower]
    if lower == upper:
        return first
    return first + (rank - lower) * (ordered[upper] - first)


def escalation_episodes(
    values: Sequence[float | None], *, threshold: float, periods: int
) -> list[int]:
    """Indexes at which an escalation fires, over consecutive closed periods (oldest first).

    It fires when a run of values strictly below ``threshold`` reaches exactly
    ``periods`` long — once per episode: a longer run does not fire again, and a
    value at or above the threshold ends the episode. A None (grey, no data) value
    also ends the run: with no data nobody can say the commitment was below, and
    the K periods must be consecutive. threshold .8, periods 2,
    [.9, .7, .6, .5, .9, .7, .7] -> [2, 6].
    """
    if periods < 1:
        raise ValueError(f"periods must be >= 1, got {periods}")
    fired: list[int] = []
    run = 0
    for index, value in enumerate(values):
        if value is not None and value < threshold:
            run += 1
            if run == periods:
                fired.append(index)
        else:
            run = 0
    return fired


def response_bucket(seconds: float | None) -> str:
    """Speed-to-lead bucket of calendar seconds from mql_at to first contact:
    "< 5 min", "< 1 h", "< 4 h", "< 24 h", "later", or "none" when never contacted.
    Upper bounds are exclusive (exactly 300 s is "< 1 h")."""
    if seconds is None:
        return "none"
    if seconds < 0:
        raise ValueError(f"response time cannot be negative, got {seconds} s")
    for limit, label in _BUCKET_LIMITS:
        if seconds < limit:
            return label
    return "later"


# --- internals ------------------------------------------------------------------------


def known_cohort(cohort: Iterable[MqlFacts], as_of: datetime) -> list[MqlFacts]:
    """The cohort MQL events known at as_of (mql_at <= as_of); ValueError when an event
    (``key``) appears twice."""
    now = _utc(as_of)
    known: list[MqlFacts] = []
    seen: set[int] = set()
    for f in cohort:
        if f.key in seen:
            raise ValueError(f"MQL event {f.key} (lead {f.lead_id}) appears twice in the cohort")
        seen.add(f.key)
        if _utc(f.mql_at) <= now:
            known.append(f)
    return known


def _in_window(f: MqlFacts, moment: datetime, until: datetime) -> bool:
    """``moment`` (UTC) belongs to the event: in [mql_at, next_mql_at) and not after ``until``."""
    if moment < _utc(f.mql_at) or moment > until:
        return False
    return f.next_mql_at is None or moment < _utc(f.next_mql_at)


def _known_touches(f: MqlFacts, until: datetime) -> list[datetime]:
    return sorted(t for t in map(_utc, f.touches) if _in_window(f, t, until))


def _first_final_disposition(f: MqlFacts, until: datetime) -> tuple[datetime, str, bool] | None:
    finals = [
        (_utc(occurred_at), outcome, has_reason)
        for occurred_at, outcome, has_reason in f.dispositions
        if outcome in FINAL_OUTCOMES and _in_window(f, _utc(occurred_at), until)
    ]
    # min() keeps the first of equal keys, so ties follow the given (id) order.
    return min(finals, key=lambda d: d[0]) if finals else None


def _clock_outcome(
    happened_at: datetime | None, due: datetime | None, as_of: datetime
) -> Outcome | None:
    if due is None:
        return None
    if happened_at is not None:
        return Outcome.MET if _utc(happened_at) <= _utc(due) else Outcome.MISSED
    return Outcome.MISSED if _utc(as_of) > _utc(due) else Outcome.PENDING


def _rate_result(
    metric: Metric,
    outcomes: Mapping[int, Outcome],
    target: float,
    yellow_threshold: float,
    *,
    median_hours: float | None = None,
    p90_hours: float | None = None,
) -> MetricResult:
    met = sum(1 for o in outcomes.values() if o is Outcome.MET)
    missed = sum(1 for o in outcomes.values() if o is Outcome.MISSED)
    return rate_result(
        metric,
        met=met,
        missed=missed,
        pending=len(outcomes) - met - missed,
        target=target,
        yellow_threshold=yellow_threshold,
        median_hours=median_hours,
        p90_hours=p90_hours,
        outcomes=outcomes,
    )


def _check_cadence(touches: int, days: int) -> None:
    if touches < 1:
        raise ValueError(f"follow_up_cadence needs touches >= 1, got {touches}")
    if days < 1:
        raise ValueError(f"follow_up_cadence needs days >= 1, got {days}")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}")


def _utc(moment: datetime) -> datetime:
    _require_aware(moment, "datetime")
    return moment.astimezone(UTC)
