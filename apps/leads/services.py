"""Writes on leads and activities: the one path for every lead write (ingestion, stage moves, routing).

Ingestion is set-based: a batch of up to 1,000 items costs a fixed number of
queries (parse in Python, one lookup per kind of reference, one insert, one
update), all in one transaction. After the facts are stored, still inside that
transaction, the MQL engine re-evaluates the touched leads and the SLA clocks
re-read the new sales touches, so a caller never sees stored facts that the
rules have not yet seen.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import JSONField, Prefetch, Q
from django.utils import timezone

from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import audit_record
from apps.leads import csv_rows
from apps.leads import field_mapping as field_mapping_mod
from apps.leads.crm_payloads import SOURCES as CRM_SOURCES
from apps.leads.crm_payloads import PayloadError
from apps.leads.field_mapping import DEFAULT_MAPPINGS, apply_mapping, is_valid_target
from apps.leads.geography import region_for
from apps.leads.models import (
    SALES_TOUCH_KINDS,
    STAGE_TIMESTAMP,
    Activity,
    ActivityFamily,
    Assignment,
    FieldMapping,
    ImportJob,
    Lead,
    RoutingRule,
    StageChange,
    WebhookEndpoint,
    activity_family,
)
from apps.leads.payloads import (
    QUALIFYING_FIELDS,
    ActivityItem,
    LeadItem,
    parse_activity_item,
    parse_lead_item,
)
from apps.leads.routing import conditions_clean, rule_matches

logger = logging.getLogger(__name__)

CHANNELS = frozenset({"api", "webhook", "csv", "ui", "system"})
ROUTING_MANAGERS = frozenset({Role.SALES_LEADER, Role.ADMIN})
# Lead fields routing conditions read (besides `properties.<key>`).
_ROUTING_READS = (
    "country",
    "region",
    "industry",
    "company_size",
    "annual_revenue",
    "source",
    "campaign",
    "seniority",
    "title",
    "email",
    "company_domain",
)


@dataclass(frozen=True)
class BulkResult:
    """What a bulk write did: counts per outcome, rejected items by index, the leads it touched."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    # [{"index": i, "errors": {field: [message]}}], in item order
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Leads whose stored facts changed (created or updated leads; leads with new activities).
    lead_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": self.errors,
            "lead_ids": self.lead_ids,
        }


def _channel_clean(channel: str) -> str:
    if channel not in CHANNELS:
        raise DomainError(f"Unknown channel “{channel}”.", field="channel")
    return channel


def _person(actor) -> User | None:
    """The user behind an actor; None for the system and for organization API keys."""
    return actor if isinstance(actor, User) and actor.pk else None


def _lock_external_ids(external_ids: Iterable[str]) -> None:
    """Serialize concurrent upserts of the same leads, in one query, for this transaction.

    Row locks cannot protect a lead that does not exist yet, so two batches creating
    the same external_id would collide on the unique index. Transaction-level
    advisory locks on (schema, external_id) make the second batch wait and then see
    the first one's lead as existing. Sorted so that overlapping batches never deadlock.
    """
    keys = sorted(set(external_ids))
    if not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(k) FROM ("
            "  SELECT DISTINCT hashtextextended(%s || x, 0) AS k FROM unnest(%s::text[]) AS x"
            ") AS keys ORDER BY k",
            [f"{connection.schema_name}:lead:", keys],
        )


def _rows_update(model, objs: Sequence, field_names: Sequence[str]) -> None:
    """UPDATE many rows, each with its own values, in one statement (UPDATE … FROM unnest).

    Django's bulk_update builds a CASE WHEN per field and row: for 1,000 leads that
    costs seconds of Python. Arrays of values joined by primary key cost milliseconds.
    """
    if not objs:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    arrays: list[list[Any]] = [[obj.pk for obj in objs]]
    casts = ["bigint[]"]
    for f in fields:
        if isinstance(f, JSONField):
            arrays.append(
                [json.dumps(getattr(obj, f.attname), cls=DjangoJSONEncoder) for obj in objs]
            )
            casts.append("jsonb[]")
        else:
            arrays.append([getattr(obj, f.attname) for obj in objs])
            casts.append(f"{f.db_type(connection)}[]")
    quote = connection.ops.quote_name
    columns = [quote(f.column) for f in fields]
    # Only identifiers from the model's own metadata are interpolated; every value is a parameter.
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET "  # noqa: S608
        + ", ".join(f"{c} = v.{c}" for c in columns)
        + " FROM unnest("
        + ", ".join(f"%s::{cast}" for cast in casts)
        + f") AS v(pk, {', '.join(columns)}) WHERE t.{quote(model._meta.pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def _stage_apply(lead: Lead, to_stage: str, occurred_at: datetime) -> list[str]:
    """Set the stage and its time stamps on the lead object; returns the fields it changed."""
    lead.stage = to_stage
    lead.stage_changed_at = occurred_at
    fields = ["stage", "stage_changed_at"]
    stamp = STAGE_TIMESTAMP.get(to_stage)
    # mql_at is re-stamped by each new MQL event (a lead back from nurture can qualify again);
    # the other stage times keep their first value.
    if stamp and (stamp == "mql_at" or getattr(lead, stamp) is None):
        setattr(lead, stamp, occurred_at)
        fields.append(stamp)
    return fields


@transaction.atomic
def lead_stage_change(
    *, lead: Lead, to_stage: str, occurred_at: datetime, actor=None, channel: str = "system"
) -> Lead:
    """Move a lead to a stage, stamp the stage time and keep the history row (no-op when already there)."""
    if lead.stage == to_stage:
        return lead
    StageChange.objects.create(
        lead=lead,
        from_stage=lead.stage,
        to_stage=to_stage,
        occurred_at=occurred_at,
        actor=actor if getattr(actor, "pk", None) else None,
        channel=channel,
    )
    fields = _stage_apply(lead, to_stage, occurred_at)
    lead.save(update_fields=[*fields, "updated_at"])
    return lead


@transaction.atomic
def lead_stage_change_undo(*, lead: Lead, stage_change: StageChange) -> Lead:
    """Take back the lead's latest stage move (a disposition undone moments after it was given):
    the lead returns to the stage it came from and that stage's time, the time stamp the move
    set is cleared, and its history row goes (the audit log records the undo)."""
    history = lead.stage_changes.order_by("-occurred_at", "-id")
    latest = history.first()
    if (
        latest is None
        or latest.pk != stage_change.pk
        or lead.stage != stage_change.to_stage
        or not stage_change.from_stage  # the lead's creation is not a move to take back
    ):
        raise Conflict("The lead has moved on since; that stage change can no longer be undone.")
    earlier = history.exclude(pk=stage_change.pk)
    previous = earlier.first()
    fields = ["stage", "stage_changed_at"]
    lead.stage = stage_change.from_stage
    # When the lead entered the stage it returns to: its history, else that stage's stamp.
    entered = getattr(lead, STAGE_TIMESTAMP.get(stage_change.from_stage, ""), None)
    lead.stage_changed_at = previous.occurred_at if previous else entered or lead.created_at
    stamp = STAGE_TIMESTAMP.get(stage_change.to_stage)
    if (
        stamp
        and stamp != "mql_at"
        and getattr(lead, stamp) == stage_change.occurred_at
        and not earlier.filter(to_stage=stage_change.to_stage).exists()
    ):
        setattr(lead, stamp, None)
        fields.append(stamp)
    stage_change.delete()
    lead.save(update_fields=[*fields, "updated_at"])
    return lead


# --- leads ----------------------------------------------------------------------------


def _users_by_email(emails: set[str]) -> dict[str, User]:
    if not emails:
        return {}
    return {u.email.lower(): u for u in User.objects.filter(email__in=emails)}


def _lead_apply(
    lead: Lead, item: LeadItem, *, owners: Mapping[str, User], now: datetime
) -> tuple[set[str], tuple[str, str, datetime] | None, bool]:
    """Apply an item to a lead object: (changed fields, stage move or None, owner changed)."""
    changed: set[str] = set()
    for name, value in item.values.items():
        if getattr(lead, name) != value:
            setattr(lead, name, value)
            changed.add(name)
    if item.properties:
        merged = {**(lead.properties or {}), **item.properties}
        if merged != lead.properties:
            lead.properties = merged
            changed.add("properties")
    if lead.country and not lead.region and region_for(lead.country):
        lead.region = region_for(lead.country)
        changed.add("region")
    owner_changed = False
    if item.has_owner:
        owner = owners.get(item.owner_email) if item.owner_email else None
        if (owner.pk if owner else None) != lead.owner_id:
            lead.owner = owner
            lead.assigned_at = now if owner else None
            changed |= {"owner", "assigned_at"}
            owner_changed = True
    move = None
    if item.stage and item.stage != lead.stage:
        at = item.stage_changed_at or now
        # An older stage move arriving after a newer one (out-of-order sync) must not
        # send the lead back: the later fact already describes where it stands.
        if lead.pk is None or at >= lead.stage_changed_at:
            move = (lead.stage, item.stage, at)
            changed.update(_stage_apply(lead, item.stage, at))
    return changed, move, owner_changed


@transaction.atomic
def leads_upsert(*, items: Sequence[Any], channel: str, actor) -> BulkResult:
    """Create or update leads by external_id (partial updates), reporting every rejected item by index."""
    _channel_clean(channel)
    now = timezone.now()
    errors: list[dict[str, Any]] = []
    valid: list[tuple[int, LeadItem]] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(items):
        item, item_errors = parse_lead_item(raw, now=now)
        if item is not None and item.external_id in first_index:
            item_errors = {
                "external_id": [
                    f"Appears more than once in this batch (first at index {first_index[item.external_id]})."
                ]
            }
        if item_errors:
            errors.append({"index": index, "errors": item_errors})
            continue
        assert item is not None  # noqa: S101 - no errors means an item
        first_index[item.external_id] = index
        valid.append((index, item))

    owners = _users_by_email({i.owner_email for _, i in valid if i.owner_email})
    accepted: list[tuple[int, LeadItem]] = []
    for index, item in valid:
        owner = owners.get(item.owner_email) if item.owner_email else None
        if item.owner_email and (owner is None or not owner.is_active):
            problem = "is deactivated" if owner else "is not a user of this organization"
            errors.append({"index": index, "errors": {"owner": [f"{item.owner_email} {problem}."]}})
        else:
            accepted.append((index, item))

    _lock_external_ids(item.external_id for _, item in accepted)
    # Row locks in primary-key order, the order the MQL engine locks them in too.
    existing = {
        lead.external_id: lead
        for lead in Lead.objects.select_for_update()
        .filter(external_id__in=[item.external_id for _, item in accepted])
        .order_by("pk")
    }
    person = _person(actor)
    new_leads: list[Lead] = []
    changed_leads: list[Lead] = []
    update_fields: set[str] = set()
    moves: list[tuple[Lead, str, str, datetime]] = []
    owner_changes: list[Lead] = []
    unchanged = 0
    for _index, item in accepted:
        lead = existing.get(item.external_id)
        if lead is None:
            created_at = item.created_at or now
            lead = Lead(
                external_id=item.external_id, created_at=created_at, stage_changed_at=created_at
            )
            _changed, move, owner_changed = _lead_apply(lead, item, owners=owners, now=now)
            new_leads.append(lead)
        else:
            changed, move, owner_changed = _lead_apply(lead, item, owners=owners, now=now)
            if not changed:
                unchanged += 1
                continue
            if changed & QUALIFYING_FIELDS:
                lead.fields_changed_at = item.changed_at or now
                changed.add("fields_changed_at")
            lead.updated_at = now
            update_fields |= changed
            changed_leads.append(lead)
        if move:
            moves.append((lead, *move))
        if owner_changed and lead.owner_id:
            owner_changes.append(lead)

    Lead.objects.bulk_create(new_leads)
    _rows_update(Lead, changed_leads, sorted(update_fields | {"updated_at"}))
    if moves:
        StageChange.objects.bulk_create(
            StageChange(
                lead=lead,
                from_stage=from_stage,
                to_stage=to_stage,
                occurred_at=at,
                actor=person,
                channel=channel,
                recorded_at=now,
            )
            for lead, from_stage, to_stage, at in moves
        )
    if owner_changes:
        Assignment.objects.bulk_create(
            Assignment(
                lead=lead,
                owner_id=lead.owner_id,
                assigned_at=now,
                assigned_by=person,
                reason=f"Owner set through {channel}",
            )
            for lead in owner_changes
        )
    lead_ids = [lead.pk for lead in new_leads] + [lead.pk for lead in changed_leads]
    _facts_stored(lead_ids=lead_ids, touched_by_sales=[])
    errors.sort(key=lambda e: e["index"])
    return BulkResult(
        created=len(new_leads),
        updated=len(changed_leads),
        unchanged=unchanged,
        rejected=len(errors),
        errors=errors,
        lead_ids=lead_ids,
    )


def _facts_stored(
    *,
    lead_ids: list[int],
    touched_by_sales: list[int],
    earliest_new_activity: dict[int, datetime] | None = None,
) -> None:
    """Let the MQL engine and the SLA clocks see new facts, inside the ingesting transaction."""
    # Imported here: the MQL and SLA services call back into this module (routing),
    # and the dependency between these apps is a cycle only at call time.
    from apps.mql import services as mql_services
    from apps.sla import services as sla_services

    if lead_ids:
        # With the activities' earliest times, an activity older than a lead's MQL moment
        # re-dates that MQL (and its clocks).
        mql_services.leads_qualify(lead_ids=lead_ids, earliest_new_activity=earliest_new_activity)
    if touched_by_sales:
        sla_services.clocks_sync(lead_ids=touched_by_sales)


# --- activities -------------------------------------------------------------------------

_ACTIVITY_INSERT = """
INSERT INTO {table} (lead_id, kind, family, occurred_at, external_id, properties, actor_id, note, recorded_at)
SELECT * FROM unnest(
    %s::bigint[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::varchar[],
    %s::jsonb[], %s::bigint[], %s::text[], %s::timestamptz[]
)
ON CONFLICT (external_id) DO NOTHING
RETURNING lead_id, family, occurred_at
"""


@transaction.atomic
def activities_ingest(*, items: Sequence[Any], channel: str, actor) -> BulkResult:
    """Append activities by external_id: a stored one is never changed (idempotent), order does not matter."""
    _channel_clean(channel)
    now = timezone.now()
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, ActivityItem, str]] = []
    seen: set[str] = set()
    duplicates = 0
    for index, raw in enumerate(items):
        item, item_errors = parse_activity_item(raw, now=now, external_id_required=channel != "ui")
        if item_errors:
            errors.append({"index": index, "errors": item_errors})
            continue
        assert item is not None  # noqa: S101 - no errors means an item
        external_id = item.external_id or f"ui-{uuid.uuid4().hex}"
        if external_id in seen:
            duplicates += 1  # the same fact twice in one batch: stored once
            continue
        seen.add(external_id)
        parsed.append((index, item, external_id))

    lead_ids = dict(
        Lead.objects.filter(external_id__in={item.lead for _, item, _ in parsed}).values_list(
            "external_id", "pk"
        )
    )
    actors = _users_by_email({item.actor_email for _, item, _ in parsed if item.actor_email})
    rows: list[tuple[ActivityItem, str, int, int | None]] = []
    for index, item, external_id in parsed:
        item_errors: dict[str, list[str]] = {}
        if item.lead not in lead_ids:
            item_errors["lead"] = [
                f"Unknown lead “{item.lead}”: upsert the lead first, then resend (resending is safe)."
            ]
        user = actors.get(item.actor_email) if item.actor_email else None
        if item.actor_email and user is None:
            item_errors["actor"] = [f"{item.actor_email} is not a user of this organization."]
        if item_errors:
            errors.append({"index": index, "errors": item_errors})
        else:
            rows.append((item, external_id, lead_ids[item.lead], user.pk if user else None))

    inserted: list[tuple[int, str, datetime]] = []
    if rows:
        with connection.cursor() as cursor:
            cursor.execute(
                _ACTIVITY_INSERT.format(table=connection.ops.quote_name(Activity._meta.db_table)),
                [
                    [lead_id for _, _, lead_id, _ in rows],
                    [item.kind for item, _, _, _ in rows],
                    [activity_family(item.kind).value for item, _, _, _ in rows],
                    [item.occurred_at for item, _, _, _ in rows],
                    [external_id for _, external_id, _, _ in rows],
                    [json.dumps(item.properties, default=str) for item, _, _, _ in rows],
                    [actor_id for _, _, _, actor_id in rows],
                    [item.note for item, _, _, _ in rows],
                    [now] * len(rows),
                ],
            )
            inserted = cursor.fetchall()
    touched = sorted({lead_id for lead_id, _, _ in inserted})
    touched_by_sales = sorted(
        {lead_id for lead_id, family, _ in inserted if family == ActivityFamily.SALES_TOUCH}
    )
    earliest: dict[int, datetime] = {}
    for lead_id, _, occurred_at in inserted:
        if lead_id not in earliest or occurred_at < earliest[lead_id]:
            earliest[lead_id] = occurred_at
    _facts_stored(
        lead_ids=touched, touched_by_sales=touched_by_sales, earliest_new_activity=earliest
    )
    errors.sort(key=lambda e: e["index"])
    return BulkResult(
        created=len(inserted),
        updated=0,  # activities are immutable facts: a known external_id is left as it is
        unchanged=len(rows) - len(inserted) + duplicates,
        rejected=len(errors),
        errors=errors,
        lead_ids=touched,
    )


def touch_log(
    *, lead: Lead, kind: str, actor, note: str = "", occurred_at: datetime | None = None
) -> Activity:
    """Log one sales touch by a person from the UI (the rep queue's one-click buttons)."""
    if kind not in SALES_TOUCH_KINDS:
        raise DomainError(
            f"“{kind}” is not a sales touch; one of {', '.join(sorted(SALES_TOUCH_KINDS))}.",
            field="kind",
        )
    if _person(actor) is None:
        raise DomainError("A touch is logged by a person of the organization.", field="actor")
    now = timezone.now()
    occurred_at = occurred_at or now
    if timezone.is_naive(occurred_at):
        raise DomainError("Give the time with its timezone.", field="occurred_at")
    if occurred_at > now:
        raise DomainError("A touch cannot be logged in the future.", field="occurred_at")
    external_id = f"ui-{uuid.uuid4().hex}"
    result = activities_ingest(
        items=[
            {
                "external_id": external_id,
                "lead": lead.external_id,
                "kind": kind,
                "occurred_at": occurred_at,
                "actor": actor.email,
                "note": note,
            }
        ],
        channel="ui",
        actor=actor,
    )
    if result.rejected:
        field_name, messages = next(iter(result.errors[0]["errors"].items()))
        raise DomainError(messages[0], field=field_name)
    return Activity.objects.select_related("actor").get(external_id=external_id)


# --- routing --------------------------------------------------------------------------


def _routing_fields(lead: Lead) -> dict[str, Any]:
    fields = {name: getattr(lead, name) for name in _ROUTING_READS}
    fields["properties"] = lead.properties or {}
    return fields


def _assign_by_rules(
    leads: Sequence[Lead], *, now: datetime, assigned_by: User | None, reason: str = ""
) -> list[Assignment]:
    """Give each lead to the next active user of the first rule that matches it (or the fallback)."""
    rules = list(
        RoutingRule.objects.filter(is_active=True).prefetch_related(
            Prefetch("pool", queryset=User.objects.order_by("pk"))
        )
    )
    # The fallback catches what no rule matched, whatever its position says.
    ordered = [r for r in rules if not r.is_fallback] + [r for r in rules if r.is_fallback]
    chosen: list[tuple[Lead, RoutingRule]] = []
    for lead in leads:
        fields = _routing_fields(lead)
        for rule in ordered:
            if not any(user.is_active for user in rule.pool.all()):
                continue  # an empty pool cannot take a lead: try the next rule
            if rule.is_fallback or rule_matches(rule.conditions, fields):
                chosen.append((lead, rule))
                break
    if not chosen:
        return []
    # Re-read the cursors under a row lock: concurrent routings to the same pool queue
    # up here and each sees the cursor the previous one left, so nobody gets two in a row.
    locked = {
        rule.pk: rule
        for rule in RoutingRule.objects.select_for_update()
        .filter(pk__in={rule.pk for _, rule in chosen})
        .order_by("pk")
    }
    assignments = []
    for lead, rule in chosen:
        pool = list(rule.pool.all())
        current = locked[rule.pk]
        position = current.cursor
        for _ in range(len(pool)):
            candidate = pool[position % len(pool)]
            position += 1
            if candidate.is_active:
                break
        current.cursor = position % len(pool)
        lead.owner = candidate
        lead.assigned_at = now
        lead.updated_at = now
        assignments.append(
            Assignment(
                lead=lead,
                owner=candidate,
                assigned_at=now,
                rule=rule,
                assigned_by=assigned_by,
                reason=reason or f"Routing rule “{rule.name}”",
            )
        )
    RoutingRule.objects.bulk_update(locked.values(), ["cursor"])
    Lead.objects.bulk_update([lead for lead, _ in chosen], ["owner", "assigned_at", "updated_at"])
    return Assignment.objects.bulk_create(assignments)


@transaction.atomic
def leads_route(*, lead_ids: Iterable[int], now: datetime | None = None) -> list[Assignment]:
    """Assign an owner to each lead without one by the ordered routing rules (round robin per pool).

    Leads that already have an owner keep it; leads no rule (and no fallback) takes stay unassigned.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return []
    leads = list(
        Lead.objects.select_for_update().filter(pk__in=ids, owner__isnull=True).order_by("pk")
    )
    if not leads:
        return []
    return _assign_by_rules(leads, now=now or timezone.now(), assigned_by=None)


def _routing_manager_check(actor) -> None:
    if actor is not None and getattr(actor, "role", None) not in ROUTING_MANAGERS:
        raise NotAllowed("Only the sales leader or an admin can assign leads by hand.")


@transaction.atomic
def lead_reassign(*, lead: Lead, owner: User, actor, reason: str = "") -> Assignment:
    """Give a lead to another person by hand (sales leader), keeping the assignment record."""
    _routing_manager_check(actor)
    if not isinstance(owner, User) or not owner.is_active:
        raise DomainError("Choose an active user of this organization.", field="owner")
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.owner_id == owner.pk:
        raise DomainError(f"{owner} already owns this lead.", field="owner")
    now = timezone.now()
    audit_record(actor=_person(actor), action="lead.reassigned", target=str(lead), previous=str(lead.owner or "nobody"), owner=str(owner), reason=reason)  # fmt: skip
    lead.owner = owner
    lead.assigned_at = now
    lead.save(update_fields=["owner", "assigned_at", "updated_at"])
    return Assignment.objects.create(
        lead=lead,
        owner=owner,
        assigned_at=now,
        assigned_by=_person(actor),
        reason=(reason or "").strip()[:200] or "Reassigned by hand",
    )


@transaction.atomic
def lead_route_now(*, lead: Lead, actor) -> Assignment:
    """Run the routing rules on one lead by hand, replacing its owner if it has one."""
    _routing_manager_check(actor)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    assignments = _assign_by_rules(
        [lead],
        now=timezone.now(),
        assigned_by=_person(actor),
        reason="",
    )
    if not assignments:
        raise DomainError(
            "No active routing rule matches this lead and no fallback pool has an active user.",
            field="routing",
        )
    audit_record(actor=_person(actor), action="lead.routed", target=str(lead), owner=str(assignments[0].owner))  # fmt: skip
    return assignments[0]


@transaction.atomic
def routing_rule_save(
    *,
    rule: RoutingRule | None,
    name: str,
    conditions: Any,
    pool: Iterable[User],
    is_fallback: bool,
    is_active: bool,
    actor,
) -> RoutingRule:
    """Create or change a routing rule; the conditions are validated, one fallback at most."""
    _routing_manager_check(actor)
    name = " ".join((name or "").split())
    if not name:
        raise DomainError("Give the rule a name, e.g. “Enterprise” or “EMEA”.", field="name")
    cleaned, problems = conditions_clean(conditions)
    if problems:
        raise DomainError(" ".join(problems), field="conditions")
    if is_fallback and cleaned:
        raise DomainError(
            "The fallback takes every lead no other rule matched: it has no conditions.",
            field="conditions",
        )
    members = list(pool)
    if not members:
        raise DomainError("Choose at least one person for the pool.", field="pool")
    if is_fallback:
        other = RoutingRule.objects.filter(is_fallback=True).exclude(pk=getattr(rule, "pk", None))
        if other.exists():
            raise DomainError(
                f"“{other.first()}” is already the fallback; edit it instead.", field="is_fallback"
            )
    created = rule is None
    if rule is None:
        last = RoutingRule.objects.order_by("-position").values_list("position", flat=True).first()
        rule = RoutingRule(position=(last or 0) + 1)
    rule.name = name[:120]
    rule.conditions = cleaned
    rule.is_fallback = is_fallback
    rule.is_active = is_active
    rule.save()
    rule.pool.set(members)
    audit_record(
        actor=_person(actor),
        action="routing_rule.created" if created else "routing_rule.changed",
        target=rule.name,
        conditions=cleaned,
        pool=[u.email for u in members],
        fallback=is_fallback,
        active=is_active,
    )
    return rule


@transaction.atomic
def routing_rule_move(*, rule: RoutingRule, direction: str, actor) -> None:
    """Move a rule one place up or down in the evaluation order."""
    _routing_manager_check(actor)
    rules = list(RoutingRule.objects.select_for_update().order_by("position", "pk"))
    index = next((i for i, r in enumerate(rules) if r.pk == rule.pk), None)
    if index is None:
        raise DomainError("This rule no longer exists.", field="rule")
    target = index - 1 if direction == "up" else index + 1
    if direction not in {"up", "down"}:
        raise DomainError("Move a rule up or down.", field="direction")
    if 0 <= target < len(rules):
        rules[index], rules[target] = rules[target], rules[index]
    for position, each in enumerate(rules, start=1):
        each.position = position
    RoutingRule.objects.bulk_update(rules, ["position"])
    audit_record(actor=_person(actor), action="routing_rule.moved", target=rule.name, direction=direction)  # fmt: skip


@transaction.atomic
def routing_rule_delete(*, rule: RoutingRule, actor) -> None:
    """Delete a rule; past assignments keep their record (without the rule link)."""
    _routing_manager_check(actor)
    audit_record(actor=_person(actor), action="routing_rule.deleted", target=rule.name)
    rule.delete()


# --- field mappings and webhooks --------------------------------------------------------


def field_mapping_for(source: str) -> dict[str, str]:
    """The organization's mapping for a source, or the built-in default until it saves one."""
    saved = FieldMapping.objects.filter(source=source).values_list("mapping", flat=True).first()
    if saved is not None:
        return dict(saved)
    return dict(DEFAULT_MAPPINGS.get(source, {}))


@transaction.atomic
def field_mapping_save(
    *, source: str, mapping: Mapping[str, str], actor, merge: bool = False
) -> FieldMapping:
    """Save a source's mapping (merge=True keeps the choices for names not in `mapping`)."""
    if source not in FieldMapping.Source.values:
        raise DomainError(f"Unknown source “{source}”.", field="source")
    cleaned: dict[str, str] = {}
    for name, target in mapping.items():
        name, target = str(name).strip(), str(target or "").strip()
        if not name:
            continue
        if not is_valid_target(target):
            raise DomainError(f"“{target}” is not a lead field (for “{name}”).", field="mapping")
        cleaned[name] = target
    record, _ = FieldMapping.objects.select_for_update().get_or_create(
        source=source, defaults={"mapping": DEFAULT_MAPPINGS.get(source, {})}
    )
    record.mapping = {**record.mapping, **cleaned} if merge else cleaned
    record.updated_by = _person(actor)
    record.save()
    audit_record(actor=_person(actor), action="field_mapping.changed", target=f"{source} field mapping", mapping=cleaned)  # fmt: skip
    return record


def webhook_endpoint_get() -> WebhookEndpoint:
    """The organization's webhook endpoint, created with fresh secrets on first use."""
    endpoint = WebhookEndpoint.objects.order_by("pk").first()
    if endpoint is None:
        endpoint = WebhookEndpoint.objects.create(
            url_token=secrets.token_urlsafe(24), signing_secret=secrets.token_hex(32)
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate(*, actor, is_active: bool | None = None) -> WebhookEndpoint:
    """New URL token and signing secret (the old ones stop working at once), or switch it on/off."""
    endpoint = webhook_endpoint_get()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if is_active is None:
        endpoint.url_token = secrets.token_urlsafe(24)
        endpoint.signing_secret = secrets.token_hex(32)
        endpoint.rotated_at = timezone.now()
        action = "webhook.rotated"
    else:
        endpoint.is_active = is_active
        action = "webhook.enabled" if is_active else "webhook.disabled"
    endpoint.save()
    audit_record(actor=_person(actor), action=action, target="lead webhook")
    return endpoint


@dataclass(frozen=True)
class WebhookResult:
    result: BulkResult
    ignored: int
    unmapped: list[str]


@transaction.atomic
def webhook_receive(*, source: str, payload: Any) -> WebhookResult:
    """Upsert the leads of one CRM webhook call through the organization's field mapping."""
    reader = CRM_SOURCES.get(source)
    if reader is None:
        raise DomainError(
            f"Unknown source “{source}”; one of {', '.join(CRM_SOURCES)}.", field="source"
        )
    try:
        records, ignored = reader(payload)
    except PayloadError as exc:
        raise DomainError(str(exc), field="body") from exc
    if len(records) > settings.API_BULK_MAX_ITEMS:
        raise DomainError(f"At most {settings.API_BULK_MAX_ITEMS} records per call.", field="body")
    mapping = field_mapping_for(source)
    items, unmapped = [], set()
    for record in records:
        item, names = apply_mapping(record, mapping)
        items.append(item)
        unmapped.update(names)
    result = leads_upsert(items=items, channel="webhook", actor=None)
    # Stamped at most once a minute: a row write on every call would make concurrent
    # webhook calls queue behind each other's transactions.
    now = timezone.now()
    WebhookEndpoint.objects.filter(
        Q(last_received_at__isnull=True) | Q(last_received_at__lt=now - timedelta(minutes=1))
    ).update(last_received_at=now)
    return WebhookResult(result=result, ignored=ignored, unmapped=sorted(unmapped))


# --- CSV import -------------------------------------------------------------------------

IMPORT_MAX_BYTES = 20 * 1024 * 1024
IMPORT_CHUNK_ROWS = 500
# The report keeps this many rejected rows in full; the counts stay exact beyond it.
IMPORT_MAX_STORED_ERRORS = 10_000


def _file_read(content: bytes, encoding: str) -> tuple[str, list[str], int]:
    text = csv_rows.decode(content, encoding)
    delimiter = csv_rows.detect_delimiter(text)
    headers, rows = csv_rows.read_rows(text, delimiter)
    return delimiter, headers, sum(1 for _ in rows)


@transaction.atomic
def import_job_create(*, filename: str, content: bytes, actor) -> ImportJob:
    """Store an uploaded CSV, read its header and guess the column mapping (saved choices first)."""
    if not content:
        raise DomainError("The file is empty.", field="file")
    if len(content) > IMPORT_MAX_BYTES:
        raise DomainError(
            f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB; split it.",
            field="file",
        )
    encoding = csv_rows.detect_encoding(content)
    delimiter, headers, total = _file_read(content, encoding)
    if not headers:
        raise DomainError(
            "No header row found: the first line must name the columns.", field="file"
        )
    mapping = field_mapping_mod.guess_mapping(headers, saved=field_mapping_for("csv"))
    return ImportJob.objects.create(
        filename=(filename or "upload.csv")[:255],
        content=content,
        size=len(content),
        encoding=encoding,
        delimiter=delimiter,
        headers=headers,
        total_rows=total,
        mapping=mapping,
        created_by=_person(actor),
    )


@transaction.atomic
def import_job_start(
    *,
    job: ImportJob,
    mapping: Mapping[str, str],
    encoding: str,
    date_order: str,
    time_zone: str,
    actor,
) -> ImportJob:
    """Confirm the mapping (remembered for the next file) and queue the import in the background."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJob.Status.UPLOADED:
        raise Conflict("This import has already been started.", field="status")
    if encoding not in csv_rows.ENCODINGS:
        raise DomainError(f"Unknown encoding “{encoding}”.", field="encoding")
    if date_order not in ImportJob.DateOrder.values:
        raise DomainError("Choose how dates are written in the file.", field="date_order")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"Unknown time zone “{time_zone}”.", field="time_zone") from exc
    if encoding != job.encoding:
        job.delimiter, job.headers, job.total_rows = _file_read(bytes(job.content), encoding)
        job.encoding = encoding
    cleaned: dict[str, str] = {}
    used: dict[str, str] = {}
    for header in job.headers:
        target = str(mapping.get(header, "") or "")
        if not field_mapping_mod.is_valid_target(target):
            raise DomainError(
                f"“{target}” is not a lead field (column “{header}”).", field="mapping"
            )
        if target and not target.startswith(field_mapping_mod.PROPERTY_PREFIX):
            if target in used:
                raise DomainError(
                    f"Columns “{used[target]}” and “{header}” are both mapped to "
                    f"{field_mapping_mod.LEAD_TARGETS[target]}; keep one.",
                    field="mapping",
                )
            used[target] = header
        cleaned[header] = target
    if "external_id" not in used:
        raise DomainError(
            "Map one column to External ID (the CRM's record id): it is how a row finds its lead again.",
            field="mapping",
        )
    field_mapping_save(source="csv", mapping=cleaned, actor=actor, merge=True)
    job.mapping = cleaned
    job.date_order = date_order
    job.time_zone = time_zone
    job.status = ImportJob.Status.QUEUED
    job.save()
    audit_record(actor=_person(actor), action="import.started", target=job.filename, rows=job.total_rows)  # fmt: skip
    from apps.leads.tasks import lead_import_run_task

    # Sent from inside the tenant's context, so the worker runs it in this schema.
    transaction.on_commit(lambda: lead_import_run_task.delay(job.pk))
    return job


def _chunks(rows: Iterable[csv_rows.CsvRow], size: int):
    # itertools.batched arrives with Python 3.12; the project runs 3.11.
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _import_chunk(job: ImportJob, rows: Sequence[csv_rows.CsvRow], tz) -> None:
    """Import one chunk of rows and add its outcome to the job (the caller holds the job's lock)."""
    items: list[dict[str, Any]] = []
    lines: list[tuple[int, str]] = []
    problems: list[dict[str, Any]] = []
    for row in rows:
        if row.problem:
            problems.append({"line": row.line, "external_id": "", "errors": {"row": [row.problem]}})
            continue
        item, errors = csv_rows.row_item(row.cells, job.mapping, date_order=job.date_order, tz=tz)
        external_id = str(item.get("external_id") or "")
        if errors:
            problems.append({"line": row.line, "external_id": external_id, "errors": errors})
            continue
        items.append(item)
        lines.append((row.line, external_id))
    result = (
        leads_upsert(items=items, channel="csv", actor=job.created_by) if items else BulkResult()
    )
    for error in result.errors:
        line, external_id = lines[error["index"]]
        problems.append({"line": line, "external_id": external_id, "errors": error["errors"]})
    problems.sort(key=lambda p: p["line"])
    job.processed_rows += len(rows)
    job.created += result.created
    job.updated += result.updated
    job.unchanged += result.unchanged
    job.rejected += len(problems)
    room = IMPORT_MAX_STORED_ERRORS - len(job.row_errors)
    if room > 0:
        job.row_errors = [*job.row_errors, *problems[:room]]


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued import chunk by chunk; each chunk commits with its progress, so a re-run resumes."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.is_finished or job.status == ImportJob.Status.UPLOADED:
            return job
        if job.status == ImportJob.Status.QUEUED:
            job.status = ImportJob.Status.RUNNING
            job.started_at = timezone.now()
            job.save(update_fields=["status", "started_at"])
    try:
        tz = ZoneInfo(job.time_zone)
        text = csv_rows.decode(bytes(job.content), job.encoding)
        _headers, rows = csv_rows.read_rows(text, job.delimiter)
        done = 0
        for chunk in _chunks(rows, IMPORT_CHUNK_ROWS):
            with transaction.atomic():
                job = ImportJob.objects.select_for_update().get(pk=job_id)
                # Rows already committed by an earlier (interrupted) run are skipped.
                if done + len(chunk) > job.processed_rows:
                    _import_chunk(job, chunk[max(0, job.processed_rows - done) :], tz)
                    job.save()
            done += len(chunk)
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().get(pk=job_id)
            job.status = ImportJob.Status.DONE
            job.total_rows = job.processed_rows
            job.finished_at = timezone.now()
            job.save()
    except Exception as exc:  # the report must say what happened; the worker logs the trace
        logger.exception("CSV import %s failed", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED,
            failure=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    return job
