"""The audit trail: one append-only row per state-changing action on people, keys and sign-in.

PostgreSQL refuses UPDATE, DELETE and TRUNCATE on it (migration 0003).
"""

from apps.accounts.models import AuditEvent, User


def audit_record(*, actor: User | None, action: str, target: str = "", **detail) -> AuditEvent:
    """Append one audit event (actor None = the system or an API key)."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target=target,
        detail=detail,
    )
