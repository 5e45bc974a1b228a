"""Who owns a lead: routing by ordered rules (round robin per pool), reassignment by hand, the rules.

Round robin stays fair under concurrency: the rules' cursors are re-read under a row lock,
so concurrent routings to one pool queue up and each sees the cursor the previous one
left. An assignment is a set-based write: one update of the leads' owners, one insert of
the assignment records, whatever the batch size. The hand-off pipeline routes new MQLs;
reassignments by hand go through apps/handoff/channels.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.leads.models import Assignment, Lead, RoutingRule
from apps.leads.routing import conditions_clean, rule_matches
from apps.leads.services import person_of, rows_update

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
    # The fallback catches what no rule matched, whatever its position says; an empty pool
    # cannot take a lead: the next rule is tried.
    pools = {rule.pk: list(rule.pool.all()) for rule in rules}
    ordered = [
        rule
        for rule in [r for r in rules if not r.is_fallback] + [r for r in rules if r.is_fallback]
        if any(user.is_active for user in pools[rule.pk])
    ]
    chosen: list[tuple[Lead, RoutingRule]] = []
    for lead in leads:
        fields = _routing_fields(lead) if any(not r.is_fallback for r in ordered) else {}
        for rule in ordered:
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
        pool = pools[rule.pk]
        current = locked[rule.pk]
        position = current.cursor
        for _ in range(len(pool)):
            candidate = pool[position % len(pool)]
            position += 1
            if candidate.is_active:
                break
        current.cursor = position % len(pool)
        # By id: a thousand FK descriptor assignments cost more than the whole statement.
        lead.owner_id = candidate.pk
        lead.assigned_at = now
        lead.updated_at = now
        assignments.append(
            Assignment(
                lead_id=lead.pk,
                owner_id=candidate.pk,
                assigned_at=now,
                rule_id=rule.pk,
                assigned_by_id=assigned_by.pk if assigned_by else None,
                reason=reason or f"Routing rule “{rule.name}”",
            )
        )
    RoutingRule.objects.bulk_update(locked.values(), ["cursor"])
    rows_update(Lead, [lead for lead, _ in chosen], ["owner", "assigned_at", "updated_at"])
    return _assignments_insert(assignments)


_ASSIGNMENT_INSERT = """
INSERT INTO {table} (lead_id, owner_id, assigned_at, rule_id, assigned_by_id, reason)
SELECT v.lead_id, v.owner_id, v.assigned_at, v.rule_id, v.assigned_by_id, v.reason
FROM jsonb_to_recordset(%s::jsonb) AS v(
    lead_id bigint, owner_id bigint, assigned_at timestamptz, rule_id bigint,
    assigned_by_id bigint, reason varchar)
RETURNING id, lead_id
"""


def _assignments_insert(assignments: list[Assignment]) -> list[Assignment]:
    """The assignment records in one statement (rows as one JSON document); their ids set.

    One assignment per lead in a batch, so each returned id is found by its lead.
    """
    if not assignments:
        return []
    document = [
        {
            "lead_id": a.lead_id,
            "owner_id": a.owner_id,
            "assigned_at": a.assigned_at,
            "rule_id": a.rule_id,
            "assigned_by_id": a.assigned_by_id,
            "reason": a.reason,
        }
        for a in assignments
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            _ASSIGNMENT_INSERT.format(table=connection.ops.quote_name(Assignment._meta.db_table)),
            [json.dumps(document, default=datetime.isoformat)],
        )
        ids = {lead_id: pk for pk, lead_id in cursor.fetchall()}
    for assignment in assignments:
        assignment.pk = ids[assignment.lead_id]
        assignment._state.adding = False
    return assignments


@transaction.atomic
def leads_route(
    *,
    lead_ids: Iterable[int],
    now: datetime | None = None,
    locked: Mapping[int, Lead] | None = None,
) -> list[Assignment]:
    """Assign an owner to each lead without one by the ordered routing rules (round robin per pool).

    Leads that already have an owner keep it; leads no rule (and no fallback) takes stay
    unassigned. `locked`: the leads, already locked for update by the caller (by id).
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return []
    if locked is not None:
        leads = [locked[pk] for pk in ids if locked[pk].owner_id is None]
    else:
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
    audit_record(actor=person_of(actor), action="lead.reassigned", target=str(lead), previous=str(lead.owner or "nobody"), owner=str(owner), reason=reason)  # fmt: skip
    lead.owner = owner
    lead.assigned_at = now
    lead.save(update_fields=["owner", "assigned_at", "updated_at"])
    return Assignment.objects.create(
        lead=lead,
        owner=owner,
        assigned_at=now,
        assigned_by=person_of(actor),
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
        assigned_by=person_of(actor),
        reason="",
    )
    if not assignments:
        raise DomainError(
            "No active routing rule matches this lead and no fallback pool has an active user.",
            field="routing",
        )
    audit_record(actor=person_of(actor), action="lead.routed", target=str(lead), owner=str(assignments[0].owner))  # fmt: skip
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
        actor=person_of(actor),
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
    audit_record(actor=person_of(actor), action="routing_rule.moved", target=rule.name, direction=direction)  # fmt: skip


@transaction.atomic
def routing_rules_reorder(*, ordered_ids: Sequence[int], actor) -> list[RoutingRule]:
    """Set the evaluation order of every rule at once (the API's reorder; the page moves one
    rule up or down). The fallback still runs last, whatever its place."""
    _routing_manager_check(actor)
    rules = {rule.pk: rule for rule in RoutingRule.objects.select_for_update().order_by("pk")}
    if sorted(ordered_ids) != sorted(rules) or len(set(ordered_ids)) != len(ordered_ids):
        ids = ", ".join(str(pk) for pk in sorted(rules)) or "none"
        raise Conflict(
            f"List every routing rule exactly once, in the new order (rule ids: {ids}); the "
            "rules may have changed meanwhile, so read them again and retry.",
            field="ordered_ids",
        )
    ordered = [rules[pk] for pk in ordered_ids]
    for position, rule in enumerate(ordered, start=1):
        rule.position = position
    RoutingRule.objects.bulk_update(ordered, ["position"])
    audit_record(
        actor=person_of(actor),
        action="routing_rule.reordered",
        target="routing rules",
        order=[rule.name for rule in ordered],
    )
    return ordered


@transaction.atomic
def routing_rule_delete(*, rule: RoutingRule, actor) -> None:
    """Delete a rule; past assignments keep their record (without the rule link)."""
    _routing_manager_check(actor)
    audit_record(actor=person_of(actor), action="routing_rule.deleted", target=rule.name)
    rule.delete()
