"""One figure per commitment kind over the SLA versions of a period (DESIGN.md, "A period
under two SLA versions").

Pure module: no ORM, no settings, no clock; built on the reference functions of
metrics.py. A period shows one figure per commitment *kind* (same metric and owner
team), never one per version:

* every MQL event of the period is judged under the commitment of the version in force
  at its ``mql_at`` (its clocks say which); events whose version lacks the kind are left
  out (the caller passes each version's own events);
* the counts of every version are pooled (a rate is Σ met ÷ Σ (met + missed));
* targets and yellow thresholds are weighted by the time ``t_i`` each version (holding
  the kind) was in force inside [period start, min(as_of, period end)]: a volume's is
  Σ x_i·t_i / L_i (L_i the length of the review period x_i is set for; the period's own
  length when it is that period) — which is also the pro-rating of an open period,
  150 a month in force for half of it giving 75 — and a rate's Σ x_i·t_i / Σ t_i;
* the figure names the versions it was measured under (``MetricResult.versions``).

``kind_result`` decides a figure from per-version counts (what SQL counts);
``score_kind`` is the reference that classifies the events itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from apps.compliance.metrics import (
    Metric,
    MetricResult,
    MqlFacts,
    OpportunityFacts,
    Outcome,
    Status,
    coverage_result,
    disposition_time,
    first_contact_outcomes,
    follow_up_cadence,
    known_cohort,
    mql_to_sql_rate,
    open_amount,
    percentile,
    rate_result,
    rejection_reason_coverage,
    status_for,
)
from apps.compliance.periods import Period, PeriodKind, period_for

__all__ = [
    "KindPart",
    "Terms",
    "in_force_us",
    "kind_result",
    "revenue_target",
    "score_kind",
    "weighted_terms",
]


@dataclass(frozen=True)
class Terms:
    """One SLA version's commitment of a kind: what it promised and when it was in force.

    ``[effective_at, superseded_at)`` is the version's time in force (None: still in
    force). ``params`` are the commitment's own (hours, touches and days, revenue target).
    ``review_length``: the length of the commitment's own review period when the period
    scored is of another kind (a volume target is per that length); None when it is not.
    """

    version_id: int
    number: int
    target: float
    yellow_threshold: float
    effective_at: datetime
    superseded_at: datetime | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    review_length: timedelta | None = None

    def __post_init__(self) -> None:
        _require_aware(self.effective_at, "effective_at")
        if self.superseded_at is not None:
            _require_aware(self.superseded_at, "superseded_at")


@dataclass(frozen=True)
class KindPart:
    """One version's share of a kind's figure: its terms and the counts of its events
    (for ``mql_volume``, ``met`` is the number of its cohort events)."""

    terms: Terms
    met: int = 0
    missed: int = 0
    pending: int = 0

    @property
    def measured(self) -> int:
        return self.met + self.missed + self.pending


def in_force_us(terms: Terms, period: Period, as_of: datetime) -> int:
    """Microseconds the version was in force inside [period start, min(as_of, period end)):
    the ``t_i`` of DESIGN's weighting; 0 when it was not (or as_of is before the period)."""
    start = max(_utc(period.start), _utc(terms.effective_at))
    end = min(_utc(period.end), _utc(as_of))
    if terms.superseded_at is not None:
        end = min(end, _utc(terms.superseded_at))
    return _microseconds(end - start) if end > start else 0


def weighted_terms(
    terms: Sequence[Terms],
    *,
    period: Period,
    as_of: datetime,
    volume: bool,
    review_length: timedelta | None = None,
) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    """(target, yellow threshold, effective target, effective yellow) of a kind, exactly.

    With t_i = ``in_force_us`` up to as_of and T_i the same up to the period's end:
    a volume's effective target is Σ x_i·t_i / L_i and its target for the whole period
    Σ x_i·T_i / L_i, L_i being the length of the review period x_i is set for (the
    terms' ``review_length``, else ``review_length``, else the period's own length) —
    150 a month in force for half of an open month gives 75. A rate's (and a coverage ratio's) is the average Σ x_i·t_i / Σ t_i, both
    effective and whole; when no version was in force yet by as_of (Σ t_i = 0) the
    period's T_i weigh instead, and equal weights when those are 0 too.
    """
    if not terms:
        raise ValueError("a commitment kind needs the terms of at least one version")
    upto = [in_force_us(t, period, as_of) for t in terms]
    whole = [in_force_us(t, period, period.end) for t in terms]
    if volume:
        lengths = [
            _microseconds(t.review_length or review_length or period.duration) for t in terms
        ]
        if min(lengths) <= 0:
            raise ValueError(f"review lengths must be positive, got {lengths} µs")
        targets = [Fraction(t.target) / length for t, length in zip(terms, lengths, strict=True)]
        yellows = [
            Fraction(t.yellow_threshold) / length for t, length in zip(terms, lengths, strict=True)
        ]
        return (
            _weighted_sum(targets, whole),
            _weighted_sum(yellows, whole),
            _weighted_sum(targets, upto),
            _weighted_sum(yellows, upto),
        )
    weights = _rate_weights(terms, period, as_of)
    target = _weighted_sum((t.target for t in terms), weights) / sum(weights)
    yellow = _weighted_sum((t.yellow_threshold for t in terms), weights) / sum(weights)
    return target, yellow, target, yellow


def kind_result(
    metric: str,
    parts: Sequence[KindPart],
    *,
    period: Period,
    as_of: datetime,
    review_length: timedelta | None = None,
    median_hours: float | None = None,
    p90_hours: float | None = None,
    outcomes: Mapping[int, Outcome] | None = None,
    amount: Decimal | None = None,
) -> MetricResult:
    """One commitment kind's figure from each version's counts (what SQL counts per version).

    The counts are pooled (a rate is Σ met ÷ Σ (met + missed)) and the targets weighted
    by ``weighted_terms``; ``pipeline_coverage`` divides ``amount`` by the weighted
    revenue target. ``versions`` names every version in force inside the period up to
    as_of, or whose events were measured. The one place a kind's figure is decided, for
    the reference (``score_kind``) and the SQL selectors alike.
    """
    metric = Metric(metric)
    terms = [part.terms for part in parts]
    target, yellow, effective, effective_yellow = weighted_terms(
        terms,
        period=period,
        as_of=as_of,
        volume=metric is Metric.MQL_VOLUME,
        review_length=review_length,
    )
    if metric is Metric.MQL_VOLUME:
        count = sum(part.met for part in parts)
        if effective <= 0:
            status = Status.GREY
        else:
            status = status_for(count, target=effective, yellow_threshold=effective_yellow)
        result = MetricResult(
            metric=metric,
            value=float(count),
            numerator=float(count),
            denominator=float(effective),
            target=float(target),
            yellow_threshold=float(yellow),
            status=status,
            effective_target=float(effective),
        )
    elif metric is Metric.PIPELINE_COVERAGE:
        result = coverage_result(
            Decimal(amount or 0),
            revenue_target=revenue_target(terms, period=period, as_of=as_of),
            target=float(target),
            yellow_threshold=float(yellow),
        )
    else:
        result = rate_result(
            metric,
            met=sum(part.met for part in parts),
            missed=sum(part.missed for part in parts),
            pending=sum(part.pending for part in parts),
            target=float(target),
            yellow_threshold=float(yellow),
            median_hours=median_hours,
            p90_hours=p90_hours,
            outcomes=outcomes,
        )
    named = sorted(
        (
            part.terms
            for part in parts
            if part.measured or in_force_us(part.terms, period, as_of) > 0
        ),
        key=lambda t: (_utc(t.effective_at), t.number),
    )
    return replace(result, versions=tuple(dict.fromkeys(t.number for t in named)))


def revenue_target(terms: Sequence[Terms], *, period: Period, as_of: datetime) -> Decimal:
    """The pipeline-coverage revenue target of a kind: each version's ``revenue_target``
    averaged by the time it was in force (as a rate's target is); 0 when none is set."""
    weights = _rate_weights(terms, period, as_of)
    return sum(
        (
            Decimal(str(t.params.get("revenue_target", 0) or 0)) * w
            for t, w in zip(terms, weights, strict=True)
        ),
        Decimal(0),
    ) / Decimal(sum(weights))


def score_kind(
    metric: str,
    cohorts: Sequence[tuple[Terms, Sequence[MqlFacts]]],
    *,
    period: Period,
    as_of: datetime,
    review_length: timedelta | None = None,
    opportunities: Sequence[OpportunityFacts] = (),
) -> MetricResult:
    """The reference figure of one commitment kind over a period under several versions.

    ``cohorts`` pairs each version's terms with the period's events judged under it
    (those qualified while it was in force, or whose clocks say so): each event is
    classified with its own version's parameters (hours, touches, days), then
    ``kind_result`` pools the counts and weights the targets. ``pipeline_coverage``
    reads ``opportunities`` over the quarter containing the period's start; its
    cohorts carry only the terms.
    """
    metric = Metric(metric)
    parts: list[KindPart] = []
    outcomes: dict[int, Outcome] = {}
    hours: list[float] = []
    for terms, facts in cohorts:
        if metric is Metric.MQL_VOLUME:
            parts.append(KindPart(terms, met=len(known_cohort(facts, as_of))))
            continue
        if metric is Metric.PIPELINE_COVERAGE:
            parts.append(KindPart(terms))
            continue
        rates = {"as_of": as_of, "target": terms.target, "yellow_threshold": terms.yellow_threshold}
        if metric is Metric.FIRST_CONTACT_TIME:
            own, contacted = first_contact_outcomes(facts, as_of)
            hours += contacted
            one = _from_outcomes(metric, own, terms)
        elif metric is Metric.FOLLOW_UP_CADENCE:
            one = follow_up_cadence(
                facts,
                touches=int(terms.params.get("touches", 1)),
                days=int(terms.params.get("days", 1)),
                **rates,
            )
        elif metric is Metric.MQL_TO_SQL_RATE:
            one = mql_to_sql_rate(facts, **rates)
        elif metric is Metric.DISPOSITION_TIME:
            one = disposition_time(facts, **rates)
        else:
            one = rejection_reason_coverage(facts, **rates)
        clash = outcomes.keys() & one.outcomes.keys()
        if clash:
            raise ValueError(f"MQL events {sorted(clash)} are judged under two versions")
        outcomes.update(one.outcomes)
        parts.append(
            KindPart(
                terms,
                met=int(one.numerator),
                missed=int(one.denominator - one.numerator),
                pending=one.pending,
            )
        )
    amount = None
    if metric is Metric.PIPELINE_COVERAGE:
        quarter = _quarter_of(period)
        amount = open_amount(opportunities, quarter=quarter, as_of=as_of)
    return kind_result(
        metric,
        parts,
        period=period,
        as_of=as_of,
        review_length=review_length,
        median_hours=percentile(hours, 0.5) if metric is Metric.FIRST_CONTACT_TIME else None,
        p90_hours=percentile(hours, 0.9) if metric is Metric.FIRST_CONTACT_TIME else None,
        outcomes=outcomes,
        amount=amount,
    )


def _rate_weights(terms: Sequence[Terms], period: Period, as_of: datetime) -> list[int]:
    upto = [in_force_us(t, period, as_of) for t in terms]
    if sum(upto):
        return upto
    whole = [in_force_us(t, period, period.end) for t in terms]
    return whole if sum(whole) else [1] * len(terms)


def _quarter_of(period: Period) -> Period:
    zone = getattr(period.start.tzinfo, "key", None) or "UTC"
    return period_for(PeriodKind.QUARTER, period.start, zone)


def _weighted_sum(values: Iterable[float | Fraction], weights: Sequence[int]) -> Fraction:
    return sum(
        (Fraction(value) * weight for value, weight in zip(values, weights, strict=True)),
        Fraction(0),
    )


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_outcomes(metric: Metric, outcomes: Mapping[int, Outcome], terms: Terms) -> MetricResult:
    met = sum(1 for o in outcomes.values() if o is Outcome.MET)
    missed = sum(1 for o in outcomes.values() if o is Outcome.MISSED)
    return rate_result(
        metric,
        met=met,
        missed=missed,
        pending=len(outcomes) - met - missed,
        target=terms.target,
        yellow_threshold=terms.yellow_threshold,
        outcomes=outcomes,
    )


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}")


def _utc(moment: datetime) -> datetime:
    _require_aware(moment, "datetime")
    return moment.astimezone(UTC)
