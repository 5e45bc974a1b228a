"""PostgreSQL keeps the sign-off evidence, whatever the code path (defence in depth).

- A signed version (active or superseded) cannot be deleted or changed, except moving
  from active to superseded with its superseded_at cut by a later signature and its seal
  recomputed (the seal — an HMAC the database cannot make, apps/sla/sealing.py — is what
  `verify/` checks those moves and the seal fields by).
- Its commitments and escalation rules cannot be inserted, changed or deleted, nor can
  a signature be added to it.
- The MQL definition a signed version embeds keeps its kind, version and rules and
  cannot be deleted (its name and status may still change).
- Signatures and the change log are append-only: UPDATE and DELETE are refused. The one
  UPDATE allowed is `manage.py sla_seal` sealing a signature made before keyed
  signatures (filling its chain fields once, nothing else); a new signature must come
  with its place in the chain and its MAC.
- TRUNCATE is refused on every one of these tables.

Every trigger is ENABLE ALWAYS, so `session_replication_role = replica` does not switch
them off. The app's role owns no table, so it can neither disable nor drop them (README,
"Database roles"). Tables are looked up in the trigger's own schema (TG_TABLE_SCHEMA), so
each organization's schema guards itself.
"""

from django.db import migrations

from apps.tenants.sql_statements import statements

CREATE = r"""
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
        OR NEW.based_on_id IS DISTINCT FROM OLD.based_on_id
        OR NEW.signing_round IS DISTINCT FROM OLD.signing_round
        OR NEW.status NOT IN ('active', 'superseded')
        OR (OLD.status = 'superseded' AND NEW.status = 'active')
    THEN
        RAISE EXCEPTION 'SLA version % is signed and cannot be changed; draft a new version', OLD.id
            USING ERRCODE = 'raise_exception';
    END IF;
    RETURN NEW;
END;
$$;

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
$$;

CREATE OR REPLACE FUNCTION sla_signature_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.sequence IS NULL OR NEW.mac = '' OR NEW.key_id = '' THEN
            RAISE EXCEPTION 'A signature needs its place in the signature chain and its MAC'
                USING ERRCODE = 'raise_exception';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.mac = '' AND OLD.sequence IS NULL
        AND NEW.mac <> '' AND NEW.key_id <> '' AND NEW.sequence IS NOT NULL
        AND (NEW.id, NEW.version_id, NEW.signer_id, NEW.role, NEW.team, NEW.signed_at,
             NEW.ip_address, NEW.user_agent, NEW.channel, NEW.content_hash, NEW.round)
            IS NOT DISTINCT FROM
            (OLD.id, OLD.version_id, OLD.signer_id, OLD.role, OLD.team, OLD.signed_at,
             OLD.ip_address, OLD.user_agent, OLD.channel, OLD.content_hash, OLD.round)
    THEN
        -- manage.py sla_seal: a signature made before keyed signatures gets its chain fields once.
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'Signatures are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'raise_exception';
END;
$$;

CREATE OR REPLACE FUNCTION handoff_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'raise_exception';
END;
$$;

CREATE OR REPLACE FUNCTION handoff_no_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% keeps evidence: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'raise_exception';
END;
$$;

CREATE OR REPLACE FUNCTION sla_signed_definition_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    signed_id bigint;
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.id = OLD.id
        AND NEW.kind IS NOT DISTINCT FROM OLD.kind
        AND NEW.version IS NOT DISTINCT FROM OLD.version
        AND NEW.rules IS NOT DISTINCT FROM OLD.rules
    THEN
        RETURN NEW;
    END IF;
    EXECUTE format(
        'SELECT id FROM %I.sla_slaversion WHERE mql_definition_id = $1 AND status IN (''active'', ''superseded'') LIMIT 1',
        TG_TABLE_SCHEMA
    )
    INTO signed_id
    USING OLD.id;
    IF signed_id IS NOT NULL THEN
        RAISE EXCEPTION 'MQL definition % is part of signed SLA version % and cannot be changed', OLD.id, signed_id
            USING ERRCODE = 'raise_exception';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;

CREATE TRIGGER sla_slaversion_signed_guard
    BEFORE UPDATE OR DELETE ON sla_slaversion
    FOR EACH ROW EXECUTE FUNCTION sla_signed_version_guard();
CREATE TRIGGER sla_commitment_signed_guard
    BEFORE INSERT OR UPDATE OR DELETE ON sla_commitment
    FOR EACH ROW EXECUTE FUNCTION sla_signed_version_part_guard();
CREATE TRIGGER sla_escalationrule_signed_guard
    BEFORE INSERT OR UPDATE OR DELETE ON sla_escalationrule
    FOR EACH ROW EXECUTE FUNCTION sla_signed_version_part_guard();
CREATE TRIGGER sla_signature_signed_guard
    BEFORE INSERT ON sla_signature
    FOR EACH ROW EXECUTE FUNCTION sla_signed_version_part_guard();
CREATE TRIGGER sla_signature_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON sla_signature
    FOR EACH ROW EXECUTE FUNCTION sla_signature_append_only();
CREATE TRIGGER sla_slaversionchange_append_only
    BEFORE UPDATE OR DELETE ON sla_slaversionchange
    FOR EACH ROW EXECUTE FUNCTION handoff_append_only();
CREATE TRIGGER mql_mqldefinition_signed_guard
    BEFORE UPDATE OR DELETE ON mql_mqldefinition
    FOR EACH ROW EXECUTE FUNCTION sla_signed_definition_guard();

CREATE TRIGGER sla_slaversion_no_truncate BEFORE TRUNCATE ON sla_slaversion
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_no_truncate();
CREATE TRIGGER sla_commitment_no_truncate BEFORE TRUNCATE ON sla_commitment
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_no_truncate();
CREATE TRIGGER sla_escalationrule_no_truncate BEFORE TRUNCATE ON sla_escalationrule
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_no_truncate();
CREATE TRIGGER sla_signature_no_truncate BEFORE TRUNCATE ON sla_signature
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_no_truncate();
CREATE TRIGGER sla_slaversionchange_no_truncate BEFORE TRUNCATE ON sla_slaversionchange
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_no_truncate();
CREATE TRIGGER mql_mqldefinition_no_truncate BEFORE TRUNCATE ON mql_mqldefinition
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_no_truncate();

ALTER TABLE sla_slaversion ENABLE ALWAYS TRIGGER sla_slaversion_signed_guard;
ALTER TABLE sla_commitment ENABLE ALWAYS TRIGGER sla_commitment_signed_guard;
ALTER TABLE sla_escalationrule ENABLE ALWAYS TRIGGER sla_escalationrule_signed_guard;
ALTER TABLE sla_signature ENABLE ALWAYS TRIGGER sla_signature_signed_guard;
ALTER TABLE sla_signature ENABLE ALWAYS TRIGGER sla_signature_append_only;
ALTER TABLE sla_slaversionchange ENABLE ALWAYS TRIGGER sla_slaversionchange_append_only;
ALTER TABLE mql_mqldefinition ENABLE ALWAYS TRIGGER mql_mqldefinition_signed_guard;
ALTER TABLE sla_slaversion ENABLE ALWAYS TRIGGER sla_slaversion_no_truncate;
ALTER TABLE sla_commitment ENABLE ALWAYS TRIGGER sla_commitment_no_truncate;
ALTER TABLE sla_escalationrule ENABLE ALWAYS TRIGGER sla_escalationrule_no_truncate;
ALTER TABLE sla_signature ENABLE ALWAYS TRIGGER sla_signature_no_truncate;
ALTER TABLE sla_slaversionchange ENABLE ALWAYS TRIGGER sla_slaversionchange_no_truncate;
ALTER TABLE mql_mqldefinition ENABLE ALWAYS TRIGGER mql_mqldefinition_no_truncate;
"""

DROP = r"""
DROP TRIGGER IF EXISTS mql_mqldefinition_no_truncate ON mql_mqldefinition;
DROP TRIGGER IF EXISTS sla_slaversionchange_no_truncate ON sla_slaversionchange;
DROP TRIGGER IF EXISTS sla_signature_no_truncate ON sla_signature;
DROP TRIGGER IF EXISTS sla_escalationrule_no_truncate ON sla_escalationrule;
DROP TRIGGER IF EXISTS sla_commitment_no_truncate ON sla_commitment;
DROP TRIGGER IF EXISTS sla_slaversion_no_truncate ON sla_slaversion;
DROP TRIGGER IF EXISTS mql_mqldefinition_signed_guard ON mql_mqldefinition;
DROP TRIGGER IF EXISTS sla_slaversionchange_append_only ON sla_slaversionchange;
DROP TRIGGER IF EXISTS sla_signature_append_only ON sla_signature;
DROP TRIGGER IF EXISTS sla_signature_signed_guard ON sla_signature;
DROP TRIGGER IF EXISTS sla_escalationrule_signed_guard ON sla_escalationrule;
DROP TRIGGER IF EXISTS sla_commitment_signed_guard ON sla_commitment;
DROP TRIGGER IF EXISTS sla_slaversion_signed_guard ON sla_slaversion;
DROP FUNCTION IF EXISTS sla_signed_definition_guard();
DROP FUNCTION IF EXISTS sla_signature_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0005_signature_rounds_and_chain"),
        ("mql", "0002_backtestrun_definitioncomment"),
        ("accounts", "0003_audit_append_only"),
    ]

    operations = [migrations.RunSQL(statements(CREATE), statements(DROP))]
