"""The leads behind a number, with the columns that explain it: met / missed / pending, the
due time, when it was done and how long that took, the owner. Sortable; the same rows feed
the CSV export.

Decisions:
- A commitment's outcome per lead is the engine's own classification (the met, missed and
  pending lists of ``compliance.commitment_leads``), not a second reading of the clocks.
- "Time to …" is shown in the clock's own hours (business or calendar, with the calendar
  frozen into the SLA version that measured it) and sorted by the elapsed time between the
  same two instants; it is computed only for the rows of the page being shown.
- Sorting is a fixed list of keys; anything else falls back to the list's default order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.fields import CharField, IntegerField

from apps.compliance import selectors as compliance
from apps.dispositions.countdown import clock_mode
from apps.leads.models import Activity, ActivityFamily, Lead
from apps.sla import business_time
from apps.sla.models import CLOCK_METRICS, ClockKind, Commitment, SlaClock, SlaVersion
from apps.sla.selectors import calendar_for_version

OUTCOME_RANK = {"missed": 0, "pending": 1, "met": 2}
DONE_LABEL = {
    "first_contact_time": "First contact",
    "disposition_time": "Disposition",
    "follow_up_cadence": "Cadence met",
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort: str | None  # the queryset ordering of this column, None when it does not sort
    numeric: bool = False


def columns_for(commitment: Commitment | None) -> list[Column]:
    """The columns that explain the number the list was opened from."""
    if commitment is not None and commitment.metric in CLOCK_METRICS:
        done = DONE_LABEL.get(commitment.metric, "Done")
        return [
            Column("lead", "Lead", "last_name"),
            Column("owner", "Owner", "owner__name"),
            Column("source", "Source", "source"),
            Column("mql", "MQL at", "mql_at"),
            Column("due", "Due", "clock_due_at"),
            Column("met", done, "clock_met_at"),
            Column("took", f"Time to {done.lower()}", "clock_took"),
            Column("outcome", "Outcome", "outcome_rank"),
        ]
    return [
        Column("lead", "Lead", "last_name"),
        Column("company", "Company", "company"),
        Column("source", "Source", "source"),
        Column("owner", "Owner", "owner__name"),
        Column("stage", "Stage", "stage"),
        Column("mql", "MQL at", "mql_at"),
        Column("contact", "First contact", "first_touch_at"),
        Column("took", "Time to first contact", "contact_took"),
        Column("sql", "SQL at", "sql_at"),
        Column("amount", "Amount", "amount", numeric=True),
    ]


def default_sort(commitment: Commitment | None) -> str:
    return "due" if commitment is not None and commitment.metric in CLOCK_METRICS else "-mql"


def _first_touch() -> Subquery:
    return Subquery(
        Activity.objects.filter(
            lead=OuterRef("pk"),
            family=ActivityFamily.SALES_TOUCH,
            occurred_at__gte=OuterRef("mql_at"),
        )
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )


def annotate(
    leads: QuerySet[Lead],
    *,
    commitment: Commitment | None,
    period,
    as_of: datetime,
    owner_id: int | None,
) -> QuerySet[Lead]:
    """The list's leads with the columns' values, as one query."""
    if commitment is not None and commitment.metric in CLOCK_METRICS:
        clock = SlaClock.objects.filter(
            lead=OuterRef("pk"),
            commitment=commitment,
            started_at__gte=period.start,
            started_at__lt=period.end,
        ).order_by("-started_at")
        leads = leads.annotate(
            clock_started_at=Subquery(clock.values("started_at")[:1]),
            clock_due_at=Subquery(clock.values("due_at")[:1]),
            clock_met_at=Subquery(clock.values("met_at")[:1]),
            clock_version_id=Subquery(clock.values("sla_version_id")[:1]),
            clock_kind=Subquery(clock.values("kind")[:1]),
        ).annotate(clock_took=F("clock_met_at") - F("clock_started_at"))
        outcome = {
            name: compliance.commitment_leads(
                commitment=commitment, period=period, outcome=name, as_of=as_of, owner_id=owner_id
            ).values("pk")
            for name in ("met", "missed")
        }
        leads = leads.annotate(
            outcome=Case(
                When(pk__in=outcome["met"], then=Value("met")),
                When(pk__in=outcome["missed"], then=Value("missed")),
                default=Value("pending"),
                output_field=CharField(),
            ),
            outcome_rank=Case(
                When(pk__in=outcome["met"], then=Value(OUTCOME_RANK["met"])),
                When(pk__in=outcome["missed"], then=Value(OUTCOME_RANK["missed"])),
                default=Value(OUTCOME_RANK["pending"]),
                output_field=IntegerField(),
            ),
        )
        return leads
    first_contact_version = SlaClock.objects.filter(
        lead=OuterRef("pk"), kind=ClockKind.FIRST_CONTACT, started_at=OuterRef("mql_at")
    ).order_by("id")
    return leads.annotate(
        first_touch_at=_first_touch(),
        contact_version_id=Subquery(first_contact_version.values("sla_version_id")[:1]),
    ).annotate(contact_took=F("first_touch_at") - F("mql_at"))


def ordered(leads: QuerySet[Lead], columns: Sequence[Column], sort: str, fallback: str):
    """``sort`` is a column key, "-" first for descending; empty values always last."""
    by_key = {column.key: column.sort for column in columns if column.sort}
    key = sort.lstrip("-")
    if key not in by_key:
        sort, key = fallback, fallback.lstrip("-")
    field = by_key[key]
    expression = (
        F(field).desc(nulls_last=True) if sort.startswith("-") else F(field).asc(nulls_last=True)
    )
    tie = ["first_name", "pk"] if key == "lead" else ["-mql_at", "-pk"]
    return leads.order_by(expression, *tie), sort


def _hours_text(hours: float, unit: str = "h") -> str:
    if hours < 1:
        return f"{round(hours * 60)} min"
    return f"{hours:.1f} {unit}"


def took_text(leads: Iterable[Lead], *, commitment: Commitment | None) -> dict[int, str]:
    """ "3.2 business h" per lead of the page (the clock's own hours and calendar)."""
    leads = list(leads)
    if commitment is not None and commitment.metric in CLOCK_METRICS:
        version_ids = {lead.clock_version_id for lead in leads if lead.clock_version_id}
        mode = None
        pairs = {
            lead.pk: (lead.clock_version_id, lead.clock_started_at, lead.clock_met_at)
            for lead in leads
        }
    else:
        version_ids = {lead.contact_version_id for lead in leads if lead.contact_version_id}
        mode = business_time.BUSINESS
        pairs = {
            lead.pk: (lead.contact_version_id, lead.mql_at, lead.first_touch_at) for lead in leads
        }
    versions = {v.pk: v for v in SlaVersion.objects.filter(pk__in=version_ids)}
    kind = getattr(next(iter(leads), None), "clock_kind", None) or ClockKind.FIRST_CONTACT
    if mode is None:
        mode = clock_mode(kind=kind, params=(commitment.params or {}) if commitment else {})
    calendars = {pk: calendar_for_version(v, mode=mode) for pk, v in versions.items()}
    unit = "business h" if mode == business_time.BUSINESS else "h"
    texts = {}
    for pk, (version_id, start, end) in pairs.items():
        if start is None or end is None:
            continue
        if version_id in calendars:
            hours = business_time.between(calendars[version_id], start, end) / timedelta(hours=1)
            texts[pk] = _hours_text(hours, unit)
        else:
            texts[pk] = _hours_text((end - start) / timedelta(hours=1)) + " elapsed"
    return texts
