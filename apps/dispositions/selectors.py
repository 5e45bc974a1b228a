"""Reads of the feedback loop: who may work a lead, reason codes, disposition history, the rep's
and the team's queue with business-time countdowns, and the marketing feedback aggregates.

Every list here costs a fixed number of queries whatever its length: the queue
loads its leads, their open clocks, their latest activities and MQL events in one
query each, and the feedback page is a handful of GROUP BYs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber

from apps.accounts.exceptions import DomainError
from apps.accounts.models import User
from apps.accounts.roles import Capability, Role, roles_for
from apps.dispositions.countdown import Countdown, clock_mode, countdown
from apps.dispositions.models import REASON_REQUIRED, Disposition, Outcome, ReasonCode
from apps.icp.selectors import fit_for_leads
from apps.leads.models import Activity, ActivityFamily, Lead, Stage
from apps.mql.selectors import mql_explanations_for_leads
from apps.sla.models import ClockKind, SlaClock, SlaVersion
from apps.sla.selectors import calendar_for_version, organization_timezone

LAST_ACTIVITIES = 3
# Roles whose leads make up "the team" a sales leader runs.
TEAM_ROLES = (Role.REP, Role.SALES_LEADER)


# --- who may work a lead -----------------------------------------------------


def is_lead_workable_by(*, lead: Lead, user) -> bool:
    """A rep works only the leads they own; a sales leader every lead of the team (the
    organization's sales team: anyone's, or nobody's yet)."""
    if user is None or not getattr(user, "is_active", False) or getattr(user, "pk", None) is None:
        return False
    if user.role not in roles_for(Capability.WORK_LEADS):
        return False
    # A rep works the leads they own; sales leaders and admins every lead.
    return user.role != Role.REP or lead.owner_id == user.pk


def team_members() -> QuerySet[User]:
    """The people a sales leader's queue can filter by and reassign to."""
    return User.objects.filter(role__in=TEAM_ROLES, is_active=True).order_by("name", "email")


# --- reason codes ------------------------------------------------------------


def reason_code_list(
    *, include_retired: bool = True, outcome: str | None = None
) -> QuerySet[ReasonCode]:
    """The picklist for the settings page: live codes by outcome and position, retired last;
    each with ``uses``, the number of dispositions that carry it."""
    qs = ReasonCode.objects.annotate(uses=Count("dispositions"))
    if not include_retired:
        qs = qs.filter(retired_at__isnull=True)
    if outcome is not None:
        qs = qs.filter(outcome=outcome)
    return qs.order_by(F("retired_at").asc(nulls_first=True), "outcome", "position", "id")


def reason_codes_offered() -> dict[str, list[ReasonCode]]:
    """Live codes grouped by outcome, in their order: what the disposition forms offer."""
    offered: dict[str, list[ReasonCode]] = {Outcome.REJECTED: [], Outcome.NURTURE: []}
    for code in ReasonCode.objects.filter(retired_at__isnull=True).order_by(
        "outcome", "position", "id"
    ):
        offered[code.outcome].append(code)
    return offered


# --- dispositions ------------------------------------------------------------


def lead_disposition_history(*, lead: Lead) -> QuerySet[Disposition]:
    """Every disposition of the lead, newest first, with reason, actor and MQL definition."""
    return (
        Disposition.objects.filter(lead=lead)
        .select_related("reason_code", "actor", "mql_event__definition")
        .order_by("-occurred_at", "-id")
    )


def lead_disposition_current(*, lead: Lead) -> Disposition | None:
    """The lead's state as sales sees it: its latest disposition (by when it happened)."""
    return lead_disposition_history(lead=lead).first()


def latest_dispositions(*, lead_ids: Iterable[int]) -> dict[int, Disposition]:
    """The latest disposition of each lead, in one query (DISTINCT ON)."""
    rows = (
        Disposition.objects.filter(lead_id__in=list(lead_ids))
        .select_related("reason_code", "actor")
        .order_by("lead_id", "-occurred_at", "-id")
        .distinct("lead_id")
    )
    return {row.lead_id: row for row in rows}


def disposition_list(
    *,
    lead: Lead | None = None,
    owner: User | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Disposition]:
    """Dispositions for the API list, newest first."""
    qs = Disposition.objects.select_related("lead", "reason_code", "actor")
    if lead is not None:
        qs = qs.filter(lead=lead)
    if owner is not None:
        qs = qs.filter(lead__owner=owner)
    if outcome:
        qs = qs.filter(outcome=outcome)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs.order_by("-occurred_at", "-id")


@dataclass
class BulkLookup:
    """Leads, users and reason codes of a bulk request, read once, resolved per item."""

    leads_by_key: dict[str, Lead]
    users_by_email: dict[str, User]
    codes: list[ReasonCode]

    def lead(self, key: Lead | str) -> Lead:
        if isinstance(key, Lead):
            return key
        found = self.leads_by_key.get(str(key))
        if found is None:
            raise DomainError(f"No lead with external_id “{key}”.", field="lead")
        return found

    def actor(self, *, principal, email: str | None):
        """People act as themselves; an organization key names the person with `actor`."""
        if getattr(principal, "pk", None) is not None:
            if email and email.strip().lower() != principal.email.lower():
                raise DomainError(
                    "Only an organization API key may act for someone else.", field="actor"
                )
            return principal
        if not email:
            raise DomainError("Give the email of the person who did this (actor).", field="actor")
        user = self.users_by_email.get(email.strip().lower())
        if user is None or not user.is_active:
            raise DomainError(f"No active user with email “{email}”.", field="actor")
        return user

    def reason_code(
        self, value: ReasonCode | int | str | None, *, outcome: str
    ) -> ReasonCode | None:
        """A code by object, id or label (case-insensitive; a live one of the outcome first)."""
        if value is None or value == "":
            return None
        if isinstance(value, ReasonCode):
            return value
        text = str(value).strip()
        if text.isdigit():
            for code in self.codes:
                if code.pk == int(text):
                    return code
        else:
            matches = [code for code in self.codes if code.label.casefold() == text.casefold()]
            matches.sort(key=lambda c: (c.outcome != outcome, c.retired_at is not None))
            if matches:
                return matches[0]
        raise DomainError(f"Unknown reason code “{value}”.", field="reason_code")


def bulk_lookup(*, lead_keys: Sequence[Lead | str], actor_emails: Sequence[str]) -> BulkLookup:
    external_ids = {str(key) for key in lead_keys if not isinstance(key, Lead)}
    emails = {email.strip().lower() for email in actor_emails if email}
    leads = (
        {lead.external_id: lead for lead in Lead.objects.filter(external_id__in=external_ids)}
        if external_ids
        else {}
    )
    users = (
        {user.email.lower(): user for user in User.objects.filter(email__in=emails)}
        if emails
        else {}
    )
    return BulkLookup(
        leads_by_key=leads, users_by_email=users, codes=list(ReasonCode.objects.all())
    )


# --- the queue ---------------------------------------------------------------


def _open_clocks():
    """Clocks of the lead's current MQL that nobody has met yet (pending, or breached unmet)."""
    return SlaClock.objects.filter(
        lead=OuterRef("pk"), met_at__isnull=True, started_at__gte=OuterRef("mql_at")
    )


def queue_leads(*, owner: User | None = None, rep_id: int | None = None, unassigned: bool = False):
    """Open MQLs (stage mql), nearest pending deadline first, then oldest MQL first.

    `owner`: a rep's own queue; `rep_id`/`unassigned`: the team queue's filter.
    """
    touches = (
        Activity.objects.filter(
            lead=OuterRef("pk"),
            family=ActivityFamily.SALES_TOUCH,
            occurred_at__gte=OuterRef("mql_at"),
        )
        .order_by()
        .values("lead")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = (
        Lead.objects.open_mqls()
        .select_related("owner")
        .annotate(
            next_due_at=Subquery(_open_clocks().order_by("due_at").values("due_at")[:1]),
            touch_count=Coalesce(Subquery(touches), Value(0)),
        )
    )
    if owner is not None:
        qs = qs.filter(owner=owner)
    elif unassigned:
        qs = qs.filter(owner__isnull=True)
    elif rep_id is not None:
        qs = qs.filter(owner_id=rep_id)
    return qs.order_by(F("next_due_at").asc(nulls_last=True), "mql_at", "pk")


@dataclass(frozen=True)
class ClockView:
    """One open clock of a queue row with its countdown at `now`."""

    clock: SlaClock
    countdown: Countdown

    @property
    def kind_label(self) -> str:
        return ClockKind(self.clock.kind).label


@dataclass
class QueueRow:
    """Everything one row of the queue shows about one open MQL."""

    lead: Lead
    clocks: list[ClockView] = field(default_factory=list)  # open ones, nearest first
    touches: int = 0
    cadence_touches: int | None = None  # the follow-up commitment's N, when one applies
    fit: object | None = None  # apps.icp.fit.FitResult
    why: dict | None = None  # apps.mql.selectors.mql_explanation's dict
    last_activities: list[Activity] = field(default_factory=list)

    @property
    def next_clock(self) -> ClockView | None:
        return self.clocks[0] if self.clocks else None

    @property
    def why_reasons(self) -> list[str]:
        if not self.why:
            return []
        met = [c.get("label", "") for c in self.why.get("conditions", []) if c.get("met")]
        return [text for text in met if text] or list(self.why.get("reasons", []))

    @property
    def definition_label(self) -> str:
        definition = (self.why or {}).get("definition") or {}
        return f"v{definition['version']}" if definition.get("version") else ""


def _calendars():
    """calendar_for_version per (version, mode), built once per request."""
    cache: dict[tuple[int, str], object] = {}

    def get(version: SlaVersion, mode: str):
        key = (version.pk, mode)
        if key not in cache:
            cache[key] = calendar_for_version(version, mode=mode)
        return cache[key]

    return get


def clock_countdown(clock: SlaClock, *, now: datetime, calendar_of=None) -> Countdown:
    """The countdown of one clock at `now`, on its own SLA version's calendar."""
    calendar_of = calendar_of or _calendars()
    mode = clock_mode(kind=clock.kind, params=clock.commitment.params or {})
    return countdown(
        calendar_of(clock.sla_version, mode),
        started_at=clock.started_at,
        due_at=clock.due_at,
        now=now,
    )


def queue_rows(*, leads: Sequence[Lead], now: datetime) -> list[QueueRow]:
    """Rows for a page of queue_leads: clocks, countdowns, cadence, fit, why-MQL and the last
    activities, in a fixed number of queries for the whole page."""
    leads = list(leads)
    if not leads:
        return []
    ids = [lead.pk for lead in leads]
    rows = {lead.pk: QueueRow(lead=lead, touches=getattr(lead, "touch_count", 0)) for lead in leads}
    calendar_of = _calendars()
    clocks = (
        SlaClock.objects.filter(lead_id__in=ids)
        .select_related("commitment", "sla_version")
        .order_by("due_at", "id")
    )
    for clock in clocks:
        row = rows[clock.lead_id]
        if row.lead.mql_at is not None and clock.started_at < row.lead.mql_at:
            continue  # a clock of an earlier MQL of this lead
        if clock.kind == ClockKind.FOLLOW_UP:
            row.cadence_touches = int((clock.commitment.params or {}).get("touches", 0)) or None
        if clock.met_at is None:
            row.clocks.append(
                ClockView(
                    clock=clock, countdown=clock_countdown(clock, now=now, calendar_of=calendar_of)
                )
            )
    fits = fit_for_leads(leads=leads)
    explanations = mql_explanations_for_leads(lead_ids=ids)
    recent = (
        Activity.objects.filter(lead_id__in=ids)
        .select_related("actor")
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("lead_id")],
                order_by=[F("occurred_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=LAST_ACTIVITIES)
        .order_by("lead_id", "-occurred_at", "-id")
    )
    for activity in recent:
        rows[activity.lead_id].last_activities.append(activity)
    for lead_id, row in rows.items():
        row.fit = fits.get(lead_id)
        row.why = explanations.get(lead_id)
    return [rows[lead.pk] for lead in leads]


@dataclass
class RepLoad:
    """A rep's open MQLs and how many of them are due soon (yellow) or overdue (red)."""

    user_id: int | None
    name: str
    open: int = 0
    due_soon: int = 0
    overdue: int = 0


def team_loads(*, now: datetime) -> list[RepLoad]:
    """Open / due-soon / overdue counts per rep (and unassigned), from two queries: the open
    MQLs per owner, and the nearest open clock of each open MQL (coloured in Python, because
    "due soon" is a share of a business-time window)."""
    loads: dict[int | None, RepLoad] = {
        user.pk: RepLoad(user_id=user.pk, name=user.name or user.email)
        for user in team_members().filter(role=Role.REP)
    }
    open_counts = Lead.objects.open_mqls().order_by().values("owner_id").annotate(n=Count("id"))
    owners = {row["owner_id"]: row["n"] for row in open_counts}
    missing = [pk for pk in owners if pk is not None and pk not in loads]
    for user in User.objects.filter(pk__in=missing):
        loads[user.pk] = RepLoad(user_id=user.pk, name=user.name or user.email)
    if None in owners:
        loads[None] = RepLoad(user_id=None, name="Unassigned")
    for owner_id, n in owners.items():
        loads[owner_id].open = n
    nearest = (
        SlaClock.objects.filter(
            lead__stage=Stage.MQL, met_at__isnull=True, started_at__gte=F("lead__mql_at")
        )
        .select_related("commitment", "sla_version")
        .annotate(owner_id=F("lead__owner_id"))
        .order_by("lead_id", "due_at", "id")
        .distinct("lead_id")
    )
    calendar_of = _calendars()
    for clock in nearest:
        state = clock_countdown(clock, now=now, calendar_of=calendar_of).state
        load = loads.get(clock.owner_id)
        if load is None:
            continue
        if state == "red":
            load.overdue += 1
        elif state == "yellow":
            load.due_soon += 1
    return sorted(loads.values(), key=lambda load: (load.user_id is None, load.name.lower()))


@dataclass
class QueueSummary:
    """A rep's queue in three numbers: "9 open · 3 due today · 2 overdue"."""

    open: int = 0
    due_today: int = 0
    due_soon: int = 0
    overdue: int = 0


def queue_summary(*, owner: User, now: datetime, zone: str) -> QueueSummary:
    """Open MQLs of ``owner``, those whose nearest deadline falls today (in ``zone``, not yet
    overdue) and the overdue ones, coloured like the queue's countdowns. Two queries."""
    summary = QueueSummary(open=Lead.objects.open_mqls().filter(owner=owner).count())
    nearest = (
        SlaClock.objects.filter(
            lead__stage=Stage.MQL,
            lead__owner=owner,
            met_at__isnull=True,
            started_at__gte=F("lead__mql_at"),
        )
        .select_related("commitment", "sla_version")
        .order_by("lead_id", "due_at", "id")
        .distinct("lead_id")
    )
    calendar_of = _calendars()
    today = now.astimezone(ZoneInfo(zone)).date()
    for clock in nearest:
        state = clock_countdown(clock, now=now, calendar_of=calendar_of).state
        if state == "red":
            summary.overdue += 1
            continue
        if state == "yellow":
            summary.due_soon += 1
        if clock.due_at.astimezone(ZoneInfo(zone)).date() == today:
            summary.due_today += 1
    return summary


# --- the marketing feedback page ---------------------------------------------


def tenant_timezone() -> str:
    """The organization's reporting timezone: the same one every page and period uses."""
    return organization_timezone()


def _outcome_counts() -> dict:
    return {
        "total": Count("id"),
        "accepted": Count("id", filter=Q(outcome=Outcome.ACCEPTED)),
        "rejected": Count("id", filter=Q(outcome=Outcome.REJECTED)),
        "nurture": Count("id", filter=Q(outcome=Outcome.NURTURE)),
        "working": Count("id", filter=Q(outcome=Outcome.WORKING)),
    }


@dataclass
class FeedbackReport:
    totals: dict[str, int]
    by_reason: list[dict]
    by_source: list[dict]
    by_campaign: list[dict]
    by_version: list[dict]
    mql_to_sql_by_source: list[dict]
    cohort: dict[str, int]


def feedback_report(*, start: datetime, end: datetime) -> FeedbackReport:
    """Sales feedback given in [start, end): counts by outcome, reason code (Pareto, with the
    cumulative share), source, campaign and MQL-definition version, and MQL→SQL by source for
    the MQLs of the period. Seven aggregate queries."""
    given = Disposition.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    totals = given.aggregate(**_outcome_counts())

    reasons = list(
        given.filter(outcome__in=REASON_REQUIRED)
        .values("outcome", "reason_code_id", "reason_code__label", "reason_code__retired_at")
        .annotate(n=Count("id"))
        .order_by("-n", "reason_code__label")
    )
    returned = sum(row["n"] for row in reasons)
    running = 0
    for row in reasons:
        running += row["n"]
        row["share"] = row["n"] / returned if returned else 0
        row["cumulative"] = running / returned if returned else 0

    by_source = list(
        given.values(key=F("lead__source")).annotate(**_outcome_counts()).order_by("-total", "key")
    )
    top_reason = {}
    for row in (
        given.filter(outcome=Outcome.REJECTED, reason_code__isnull=False)
        .values("lead__source", "reason_code__label")
        .annotate(n=Count("id"))
        .order_by("lead__source", "-n", "reason_code__label")
    ):
        top_reason.setdefault(row["lead__source"], (row["reason_code__label"], row["n"]))
    for row in by_source:
        row["top_reason"] = top_reason.get(row["key"])
        row["acceptance"] = _rate(
            row["accepted"], row["accepted"] + row["rejected"] + row["nurture"]
        )

    by_campaign = list(
        given.values(key=F("lead__campaign"))
        .annotate(**_outcome_counts())
        .order_by("-total", "key")
    )
    for row in by_campaign:
        row["acceptance"] = _rate(
            row["accepted"], row["accepted"] + row["rejected"] + row["nurture"]
        )

    by_version = list(
        given.values(
            key=F("mql_event__definition_id"),
            kind=F("mql_event__definition__kind"),
            version=F("mql_event__definition__version"),
            name=F("mql_event__definition__name"),
        )
        .annotate(**_outcome_counts())
        .order_by("kind", F("version").desc(nulls_last=True))
    )
    for row in by_version:
        row["acceptance"] = _rate(
            row["accepted"], row["accepted"] + row["rejected"] + row["nurture"]
        )

    cohort_leads = Lead.objects.filter(mql_at__gte=start, mql_at__lt=end)
    sql_after_mql = Q(sql_at__isnull=False, sql_at__gte=F("mql_at"))
    mql_to_sql = list(
        cohort_leads.values(key=F("source"))
        .annotate(mqls=Count("id"), sqls=Count("id", filter=sql_after_mql))
        .order_by("-mqls", "key")
    )
    for row in mql_to_sql:
        row["rate"] = _rate(row["sqls"], row["mqls"])
    cohort = cohort_leads.aggregate(mqls=Count("id"), sqls=Count("id", filter=sql_after_mql))
    cohort["rate"] = _rate(cohort["sqls"], cohort["mqls"])
    # One row per source on the page: what sales said about it and how its MQLs convert.
    conversion = {row["key"]: row for row in mql_to_sql}
    for row in by_source:
        row["cohort"] = conversion.get(row["key"])
    given_sources = {row["key"] for row in by_source}
    by_source.extend(
        {
            "key": row["key"],
            "total": 0,
            "accepted": 0,
            "rejected": 0,
            "nurture": 0,
            "working": 0,
            "acceptance": None,
            "top_reason": None,
            "cohort": row,
        }
        for row in mql_to_sql
        if row["key"] not in given_sources
    )
    return FeedbackReport(
        totals=totals,
        by_reason=reasons,
        by_source=by_source,
        by_campaign=by_campaign,
        by_version=by_version,
        mql_to_sql_by_source=mql_to_sql,
        cohort=cohort,
    )


def _rate(part: int, whole: int) -> float | None:
    """0-1; None when there is nothing to divide (shown as "—", never as 0 %)."""
    return part / whole if whole else None


@dataclass(frozen=True)
class FeedbackFilter:
    """The numbers a reader clicked: only the dimensions given (not None) filter."""

    outcome: str | None = None
    reason_code_id: int | None = None
    source: str | None = None
    campaign: str | None = None
    definition_id: int | None = None
    no_definition: bool = False

    def as_query(self) -> dict[str, str]:
        query = {}
        for name in ("outcome", "source", "campaign"):
            if getattr(self, name) is not None:
                query[name] = getattr(self, name)
        if self.reason_code_id is not None:
            query["reason"] = str(self.reason_code_id)
        if self.definition_id is not None:
            query["definition"] = str(self.definition_id)
        elif self.no_definition:
            query["definition"] = "none"
        return query


def feedback_dispositions(
    *, start: datetime, end: datetime, filters: FeedbackFilter
) -> QuerySet[Disposition]:
    """The dispositions behind a number of the feedback page, with the reps' notes."""
    qs = Disposition.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if filters.outcome is not None:
        qs = qs.filter(outcome=filters.outcome)
    if filters.reason_code_id is not None:
        qs = qs.filter(reason_code_id=filters.reason_code_id)
    if filters.source is not None:
        qs = qs.filter(lead__source=filters.source)
    if filters.campaign is not None:
        qs = qs.filter(lead__campaign=filters.campaign)
    if filters.definition_id is not None:
        qs = qs.filter(mql_event__definition_id=filters.definition_id)
    elif filters.no_definition:
        qs = qs.filter(mql_event__isnull=True)
    return qs.select_related("lead", "reason_code", "actor", "mql_event__definition").order_by(
        "-occurred_at", "-id"
    )


def nurture_returned(*, start: datetime, end: datetime) -> QuerySet[Disposition]:
    """Leads sales returned to marketing in [start, end) and that are still in nurture: the
    latest disposition of each, with why and the rep's note (what marketing acts on)."""
    latest = Disposition.objects.filter(lead=OuterRef("lead")).order_by("-occurred_at", "-id")
    return (
        Disposition.objects.filter(
            outcome=Outcome.NURTURE,
            occurred_at__gte=start,
            occurred_at__lt=end,
            lead__stage=Stage.NURTURE,
        )
        .filter(pk=Subquery(latest.values("pk")[:1]))
        .select_related("lead", "reason_code", "actor")
        .order_by("-occurred_at", "-id")
    )
