"""Reads of commitment kinds: one promise followed across the SLA versions of a period.

DESIGN.md scores a period once per commitment kind (same metric and owner team), never
once per version; apps/compliance/kinds.py decides the keys and the grouping (pure), this
module reads the signed commitments and builds the kinds of a period, and the terms each
version promised (kind_metrics.Terms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from django.utils import timezone

from apps.compliance import kind_metrics
from apps.compliance.kinds import kind_keys, kinds_in_order, parse_kind_key
from apps.compliance.periods import Period, PeriodKind, period_for
from apps.sla.models import Commitment, SlaVersion, VersionStatus

__all__ = [
    "CommitmentKind",
    "commitment_kinds",
    "kind_by_key",
    "kind_of",
    "kind_terms",
    "review_length",
    "signed_commitments",
]

SIGNED = (VersionStatus.ACTIVE, VersionStatus.SUPERSEDED)


@dataclass(frozen=True)
class CommitmentKind:
    """One promise across the SLA versions of a period (apps/compliance/kinds.py): the same
    owner team and metric, with one commitment per version holding it, oldest version first."""

    key: str
    commitments: tuple[Commitment, ...]

    @property
    def commitment(self) -> Commitment:
        """The newest version's commitment: it speaks for the kind (label, params, period)."""
        return self.commitments[-1]

    @property
    def metric(self) -> str:
        return self.commitment.metric

    @property
    def owner_team(self) -> str:
        return self.commitment.owner_team

    @property
    def review_period(self) -> str:
        return self.commitment.review_period

    @property
    def versions(self) -> tuple[SlaVersion, ...]:
        return tuple(c.version for c in self.commitments)

    def holds(self, commitment: Commitment) -> bool:
        return any(c.pk == commitment.pk for c in self.commitments)


def signed_commitments() -> list[Commitment]:
    """Every commitment of every signed version, with its version: the catalogue kinds are
    built from (an organization signs a handful of versions; one query)."""
    return list(
        Commitment.objects.filter(version__status__in=SIGNED, version__effective_at__isnull=False)
        .select_related("version")
        .order_by("version__effective_at", "version_id", "position", "id")
    )


def _overlaps(version: SlaVersion, period: Period) -> bool:
    return version.effective_at < period.end and (
        version.superseded_at is None or version.superseded_at > period.start
    )


def _until(period: Period, as_of: datetime | None) -> datetime:
    """How far into the period a kind must have been in force to be shown: up to ``as_of``
    (now when not given) for a period under way; the whole period once over, or when it
    has not begun yet."""
    moment = min(as_of or timezone.now(), period.end)
    return moment if moment > period.start else period.end


def commitment_kinds(
    *,
    period: Period,
    review_period: str | None = None,
    catalog: Sequence[Commitment] | None = None,
    as_of: datetime | None = None,
) -> list[CommitmentKind]:
    """The kinds of the commitments in force during the period (versions that governed some
    moment of it), in the newest version's order; only those reviewed per ``review_period``
    (the newest commitment's) when given. ``catalog``: ``signed_commitments()`` already read.

    A kind only a version signed for a later day of an open period holds is left out until
    that version takes effect (by ``as_of``, now when not given): it has nothing to measure
    yet. A kind already in force keeps such a version's commitment, whose terms weigh in
    the whole period's target (kind_metrics.weighted_terms)."""
    found = [
        c
        for c in (signed_commitments() if catalog is None else catalog)
        if _overlaps(c.version, period)
    ]
    order = sorted({c.version for c in found}, key=lambda v: (v.effective_at, v.pk), reverse=True)
    until = _until(period, as_of)
    kinds = [
        CommitmentKind(key=key, commitments=tuple(members))
        for key, members in kinds_in_order(found, newest_first_versions=[v.pk for v in order])
        if any(c.version.effective_at < until for c in members)
    ]
    if review_period is not None:
        kinds = [k for k in kinds if k.review_period == review_period]
    return kinds


def kind_of(
    *,
    commitment: Commitment,
    period: Period,
    catalog: Sequence[Commitment] | None = None,
    as_of: datetime | None = None,
) -> CommitmentKind:
    """The kind a commitment belongs to in the period: its siblings of the versions in force
    then; the commitment alone when its version was not (its events are none of the period's)."""
    catalog = signed_commitments() if catalog is None else catalog
    key = kind_keys([c for c in catalog if c.version_id == commitment.version_id] or [commitment])
    wanted = key.get(commitment.pk)
    for kind in commitment_kinds(period=period, catalog=catalog, as_of=as_of):
        if kind.key == wanted:
            return kind
    return CommitmentKind(key=wanted or "", commitments=(commitment,))


def kind_by_key(
    *,
    key: str,
    period: Period,
    catalog: Sequence[Commitment] | None = None,
    as_of: datetime | None = None,
) -> CommitmentKind | None:
    """The kind ``"<team>.<metric>[.<n>]"`` in the period, or None when no version in force
    then held it (ValueError for a malformed key)."""
    parse_kind_key(key)
    kinds = commitment_kinds(period=period, catalog=catalog, as_of=as_of)
    return next((k for k in kinds if k.key == key), None)


def kind_terms(kind: CommitmentKind, period: Period | None = None) -> list[kind_metrics.Terms]:
    """What each version of the kind promised, and when it was in force (kind_metrics.Terms);
    with the length of each commitment's own review period when ``period`` is another kind."""
    return [
        kind_metrics.Terms(
            version_id=c.version_id,
            number=c.version.number,
            target=float(c.target),
            yellow_threshold=float(c.yellow_threshold),
            effective_at=c.version.effective_at,
            superseded_at=c.version.superseded_at,
            params=MappingProxyType(dict(c.params or {})),
            review_length=None if period is None else review_length(c, period),
        )
        for c in kind.commitments
    ]


def review_length(commitment: Commitment, period: Period) -> timedelta | None:
    """The length of the commitment's own review period (the one containing the period's
    start) when the period is of another kind: its volume target is per that length.
    None when the period is its review period."""
    if commitment.review_period == period.kind:
        return None
    own = period_for(PeriodKind(commitment.review_period), period.start, _zone_of(period))
    return own.duration


def _zone_of(period: Period) -> str:
    return getattr(period.start.tzinfo, "key", None) or "UTC"
