"""Reads behind each role's landing page: numbers, not link tiles.

A rep lands on their queue in three numbers ("9 open · 3 due today · 2 overdue") and the
next leads due; a leader on their team's tiles and what waits for their signature or
decision; the executive on the whole scorecard; an admin on the organization's set-up.
A new organization gets a getting-started checklist whose steps tick from real state
(never from a "done" button): a calendar set by a person, a published MQL definition, an
SLA signed by both leaders, the first leads, the first alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, QuerySet

from apps.accounts.models import ApiKey, AuditEvent, User
from apps.accounts.roles import Role
from apps.compliance.models import Alert
from apps.dashboards import selectors
from apps.dashboards.scope import Scope, scope_from_params
from apps.dispositions import selectors as queue
from apps.leads.models import Lead
from apps.mql.models import DefinitionKind, DefinitionStatus, MqlDefinition
from apps.sla.models import Signature, SlaVersion, VersionStatus
from apps.sla.selectors import version_outdated_by

# The team whose tiles a leader (or a marketer) lands on.
HOME_TEAM = {
    Role.MARKETING_LEADER: "marketing",
    Role.MARKETER: "marketing",
    Role.SALES_LEADER: "sales",
}
SIGNING_TEAM = {Role.MARKETING_LEADER: "marketing", Role.SALES_LEADER: "sales"}
# Who sees the getting-started checklist while the organization is not set up.
SETUP_ROLES = frozenset({Role.ADMIN, Role.MARKETING_LEADER, Role.SALES_LEADER, Role.EXECUTIVE})


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    who: str
    url_name: str
    hint: str


@dataclass
class Landing:
    role: str
    scope: Scope
    card: selectors.Scorecard | None = None
    queue: queue.QueueSummary | None = None
    next_rows: list = field(default_factory=list)
    loads: list = field(default_factory=list)
    to_sign: list[SlaVersion] = field(default_factory=list)
    drafts: list[MqlDefinition] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    admin_counts: dict[str, int] = field(default_factory=dict)

    @property
    def steps_done(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def set_up(self) -> bool:
        return all(step.done for step in self.steps)


def getting_started() -> list[Step]:
    """The five steps of a new organization, each ticked from what is stored. Five queries."""
    calendar_set = (
        AuditEvent.objects.filter(action__startswith="calendar.", actor__isnull=False).exists()
        or SlaVersion.objects.filter(
            status__in=(VersionStatus.ACTIVE, VersionStatus.SUPERSEDED)
        ).exists()
    )
    return [
        Step(
            "calendar",
            "Set the business calendar",
            calendar_set,
            "Admin",
            "sla:calendar_list",
            "Working hours, time zone and holidays: every SLA clock counts in them.",
        ),
        Step(
            "mql",
            "Publish the MQL definition",
            MqlDefinition.objects.filter(
                kind=DefinitionKind.MQL, status=DefinitionStatus.PUBLISHED
            ).exists(),
            "Marketing leader",
            "mql:definition_list",
            "Fit, behaviour and score: what a qualified lead is, in objective terms.",
        ),
        Step(
            "sla",
            "Sign the SLA, both leaders",
            SlaVersion.objects.filter(
                status__in=(VersionStatus.ACTIVE, VersionStatus.SUPERSEDED)
            ).exists(),
            "Marketing and sales leaders",
            "sla:overview",
            "Start from a template; it is in force once both leaders have signed it.",
        ),
        Step(
            "leads",
            "Bring in the first leads",
            Lead.objects.exists(),
            "Admin (API key, webhook or CSV import)",
            "leads:import_upload",
            "Leads and their activities from the CRM: qualified by the signed definition.",
        ),
        Step(
            "alert",
            "See the first alert",
            Alert.objects.exists(),
            "Everyone",
            "compliance:notification_list",
            "A due-soon warning or a breach: the SLA is running.",
        ),
    ]


def awaiting_signature(*, role: str) -> list[SlaVersion]:
    """Versions submitted for signatures that the leader's team has not signed yet and can
    still sign (an outdated one — another version was signed since its base — cannot)."""
    team = SIGNING_TEAM.get(role)
    if team is None:
        return []
    # Signed by the team in the version's current round (earlier rounds are withdrawn).
    signed = Signature.objects.filter(
        team=team, version=OuterRef("pk"), round=OuterRef("signing_round")
    )
    waiting = (
        SlaVersion.objects.filter(status=VersionStatus.AWAITING_SIGNATURES)
        .exclude(Exists(signed))
        .select_related("contract", "based_on")
        .order_by("number")
    )
    # A handful at most (versions awaiting signatures at once): one check each.
    return [version for version in waiting if version_outdated_by(version) is None]


def drafts_to_publish() -> QuerySet[MqlDefinition]:
    return MqlDefinition.objects.filter(status=DefinitionStatus.DRAFT).order_by("-version")[:5]


def landing(*, user, now: datetime, tz: str) -> Landing:
    """Everything one person's landing page shows."""
    role = user.role
    team = HOME_TEAM.get(role)
    params = {"team": team} if team else {}
    owner_id = user.pk if role == Role.REP else None
    scope = scope_from_params(params, now=now, tz=tz, owner_id=owner_id)
    page = Landing(role=role, scope=scope)
    if role != Role.ADMIN:
        page.card = selectors.scorecard(scope=scope, viewer=user, with_history=False)
    if role == Role.REP:
        page.queue = queue.queue_summary(owner=user, now=now, zone=tz)
        page.next_rows = queue.queue_rows(leads=list(queue.queue_leads(owner=user)[:5]), now=now)
    if role == Role.SALES_LEADER:
        page.loads = queue.team_loads(now=now)
    page.to_sign = awaiting_signature(role=role)
    if role == Role.MARKETING_LEADER:
        page.drafts = list(drafts_to_publish())
    if role in SETUP_ROLES:
        page.steps = getting_started()
    if role == Role.ADMIN:
        page.admin_counts = {
            "people": User.objects.filter(is_active=True).count(),
            "invited": User.objects.filter(is_active=True, last_login__isnull=True).count(),
            "keys": ApiKey.objects.filter(
                kind=ApiKey.Kind.ORGANIZATION, revoked_at__isnull=True
            ).count(),
            "changes": AuditEvent.objects.filter(occurred_at__gte=now - timedelta(days=7)).count(),
        }
    return page
