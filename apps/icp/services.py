"""Writes of the ICP: every save is a new revision; both leaders approve a revision."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import Max

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.accounts.roles import Role
from apps.icp.fit import criteria_from_dict
from apps.icp.models import APPROVER_ROLES, IcpApproval, IcpRevision

EDITOR_ROLES = frozenset({Role.MARKETING_LEADER, Role.MARKETER, Role.SALES_LEADER, Role.ADMIN})
CRITERIA_KEYS = (
    "employee_min",
    "employee_max",
    "revenue_min",
    "revenue_max",
    "industries",
    "regions",
    "technologies",
    "seniorities",
)
PERSONA_KEYS = ("role", "goals", "pains", "objections")
_MAX_ITEMS = 50
_MAX_TEXT = 500


def _texts(values: Iterable[Any] | None, field: str) -> list[str]:
    """Non-empty, stripped, de-duplicated texts in their given order."""
    seen: dict[str, None] = {}
    for value in values or []:
        text = str(value).strip()
        if len(text) > _MAX_TEXT:
            raise DomainError(f"Keep each entry under {_MAX_TEXT} characters.", field=field)
        if text:
            seen.setdefault(text, None)
    if len(seen) > _MAX_ITEMS:
        raise DomainError(f"At most {_MAX_ITEMS} entries.", field=field)
    return list(seen)


def icp_criteria_clean(criteria: Mapping[str, Any]) -> dict[str, Any]:
    """Firmographics as stored: only known keys, empty ones dropped, validated by fit.py."""
    unknown = sorted(set(criteria) - set(CRITERIA_KEYS))
    if unknown:
        raise DomainError(f"Unknown ICP attribute {unknown[0]!r}.", field=unknown[0])
    cleaned: dict[str, Any] = {}
    for key in CRITERIA_KEYS:
        value = criteria.get(key)
        if key.endswith(("_min", "_max")):
            if value not in (None, ""):
                cleaned[key] = value
        else:
            names = _texts(value.split(",") if isinstance(value, str) else value, key)
            if names:
                cleaned[key] = names
    try:
        parsed = criteria_from_dict(cleaned)
    except ValueError as exc:
        message = str(exc)
        raise DomainError(message, field=message.split(" ", 1)[0]) from exc
    # Store numbers as numbers, whatever text the form sent.
    for key in ("employee_min", "employee_max"):
        if getattr(parsed, key) is not None:
            cleaned[key] = getattr(parsed, key)
    for key in ("revenue_min", "revenue_max"):
        if getattr(parsed, key) is not None:
            cleaned[key] = float(getattr(parsed, key))
    return cleaned


def _personas(personas: Iterable[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    cards = []
    for i, persona in enumerate(personas or []):
        card = {key: str(persona.get(key) or "").strip() for key in PERSONA_KEYS}
        if not any(card.values()):
            continue  # an untouched empty card from the form
        if not card["role"]:
            raise DomainError("A persona needs a role.", field=f"personas[{i}].role")
        cards.append(card)
    if len(cards) > _MAX_ITEMS:
        raise DomainError(f"At most {_MAX_ITEMS} personas.", field="personas")
    return cards


@transaction.atomic
def icp_revision_create(
    *,
    author: Any,
    criteria: Mapping[str, Any],
    triggers: Iterable[str] = (),
    pains: Iterable[str] = (),
    watering_holes: Iterable[str] = (),
    personas: Iterable[Mapping[str, Any]] = (),
    summary: str = "",
) -> IcpRevision:
    """Save the ICP as a new revision (earlier revisions never change)."""
    if getattr(author, "role", None) not in EDITOR_ROLES:
        raise NotAllowed("Your role may not edit the ICP.")
    revision = IcpRevision(
        criteria=icp_criteria_clean(criteria),
        triggers=_texts(triggers, "triggers"),
        pains=_texts(pains, "pains"),
        watering_holes=_texts(watering_holes, "watering_holes"),
        personas=_personas(personas),
        summary=(summary or "").strip()[:300],
        author=author if getattr(author, "pk", None) else None,
    )
    # Two simultaneous saves must get consecutive numbers, not a unique violation;
    # a row lock cannot cover the very first revision, a transaction-level advisory
    # lock (keyed by schema, as locks are database-wide) can.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}:icp"]
        )
    revision.number = (IcpRevision.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    revision.save()
    audit_record(actor=author, action="icp.revised", target=f"ICP revision {revision.number}", summary=revision.summary)  # fmt: skip
    return revision


@transaction.atomic
def icp_revision_approve(*, revision: IcpRevision, approver: Any) -> IcpApproval:
    """Record the marketing or sales leader's approval of a revision (once per role)."""
    role = getattr(approver, "role", None)
    if role not in APPROVER_ROLES:
        raise NotAllowed("Only the marketing leader and the sales leader approve the ICP.")
    existing = IcpApproval.objects.filter(revision=revision, role=role).first()
    if existing is not None:
        if existing.approver_id == approver.pk:
            return existing
        raise Conflict(
            f"Revision {revision.number} is already approved for {Role(role).label.lower()}s.",
            field="role",
        )
    audit_record(actor=approver, action="icp.approved", target=f"ICP revision {revision.number}", role=role)  # fmt: skip
    return IcpApproval.objects.create(revision=revision, role=role, approver=approver)
