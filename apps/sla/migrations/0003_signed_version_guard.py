"""Defence in depth: PostgreSQL refuses to change a signed SLA version, whatever the code path.

Services, the Django admin and the API refuse first, with a clear message; these
triggers catch everything else (a raw ORM update, a shell session, a future bug).
A signed version (status active or superseded) may only move from active to
superseded and have its superseded_at cut by a later signature; its commitments,
escalation rules and signatures cannot be inserted, changed or deleted.
Tables are looked up in the trigger's own schema (TG_TABLE_SCHEMA), so each
tenant's schema guards itself.

One statement per string: Citus forwards a DDL statement's whole query text to the worker
that holds the schema, and the worker refuses several commands in one (README, "Running
beyond one machine").
"""

from django.db import migrations

CREATE = [
    r"""
CREATE OR REPLACE FUNCTION sla_signed_version_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status NOT IN ('active', 'superseded') THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'SLA version % is signed and cannot be deleted', OLD.id
            USING ERRCODE = 'raise_exception';
    END IF;
    IF NEW.contract_id IS DISTINCT FROM OLD.contract_id
        OR NEW.number IS DISTINCT FROM OLD.number
        OR NEW.purpose IS DISTINCT FROM OLD.purpose
        OR NEW.calendar_id IS DISTINCT FROM OLD.calendar_id
        OR NEW.calendar_snapshot IS DISTINCT FROM OLD.calendar_snapshot
        OR NEW.mql_definition_id IS DISTINCT FROM OLD.mql_definition_id
        OR NEW.effective_at IS DISTINCT FROM OLD.effective_at
        OR NEW.review_date IS DISTINCT FROM OLD.review_date
        OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
        OR NEW.created_by_id IS DISTINCT FROM OLD.created_by_id
        OR NEW.created_at IS DISTINCT FROM OLD.created_at
        OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
        OR NEW.activated_at IS DISTINCT FROM OLD.activated_at
        OR NEW.status NOT IN ('active', 'superseded')
        OR (OLD.status = 'superseded' AND NEW.status = 'active')
    THEN
        RAISE EXCEPTION 'SLA version % is signed and cannot be changed; draft a new version', OLD.id
            USING ERRCODE = 'raise_exception';
    END IF;
    RETURN NEW;
END;
$$
""",
    r"""
CREATE OR REPLACE FUNCTION sla_signed_version_part_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    signed_id bigint;
BEGIN
    EXECUTE format(
        'SELECT id FROM %I.sla_slaversion WHERE id = ANY($1) AND status IN (''active'', ''superseded'') LIMIT 1',
        TG_TABLE_SCHEMA
    )
    INTO signed_id
    USING ARRAY[
        CASE WHEN TG_OP <> 'INSERT' THEN OLD.version_id END,
        CASE WHEN TG_OP <> 'DELETE' THEN NEW.version_id END
    ];
    IF signed_id IS NOT NULL THEN
        RAISE EXCEPTION 'SLA version % is signed: its % cannot be changed', signed_id, TG_TABLE_NAME
            USING ERRCODE = 'raise_exception';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$
""",
    """
CREATE TRIGGER sla_slaversion_signed_guard
    BEFORE UPDATE OR DELETE ON sla_slaversion
    FOR EACH ROW EXECUTE FUNCTION sla_signed_version_guard()
""",
    """
CREATE TRIGGER sla_commitment_signed_guard
    BEFORE INSERT OR UPDATE OR DELETE ON sla_commitment
    FOR EACH ROW EXECUTE FUNCTION sla_signed_version_part_guard()
""",
    """
CREATE TRIGGER sla_escalationrule_signed_guard
    BEFORE INSERT OR UPDATE OR DELETE ON sla_escalationrule
    FOR EACH ROW EXECUTE FUNCTION sla_signed_version_part_guard()
""",
    """
CREATE TRIGGER sla_signature_signed_guard
    BEFORE INSERT OR UPDATE OR DELETE ON sla_signature
    FOR EACH ROW EXECUTE FUNCTION sla_signed_version_part_guard()
""",
]

DROP = [
    "DROP TRIGGER IF EXISTS sla_signature_signed_guard ON sla_signature",
    "DROP TRIGGER IF EXISTS sla_escalationrule_signed_guard ON sla_escalationrule",
    "DROP TRIGGER IF EXISTS sla_commitment_signed_guard ON sla_commitment",
    "DROP TRIGGER IF EXISTS sla_slaversion_signed_guard ON sla_slaversion",
    "DROP FUNCTION IF EXISTS sla_signed_version_part_guard()",
    "DROP FUNCTION IF EXISTS sla_signed_version_guard()",
]


class Migration(migrations.Migration):
    dependencies = [("sla", "0002_version_change_log")]

    operations = [migrations.RunSQL(CREATE, DROP)]
