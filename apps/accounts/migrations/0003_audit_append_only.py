"""The audit trail is append-only: PostgreSQL refuses UPDATE, DELETE and TRUNCATE on it.

The trigger functions are shared with apps/sla's evidence triggers (created here first,
CREATE OR REPLACE there). ENABLE ALWAYS: `session_replication_role = replica` does not
switch them off. Existing tokens get scopes (personal: read, write, admin; organization
keys: read, write) and personal tokens an expiry 90 days from now, instead of never.
"""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

from apps.tenants.sql_statements import statements

CREATE = r"""
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

CREATE TRIGGER accounts_auditevent_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION handoff_append_only();
CREATE TRIGGER accounts_auditevent_no_truncate BEFORE TRUNCATE ON accounts_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION handoff_no_truncate();
ALTER TABLE accounts_auditevent ENABLE ALWAYS TRIGGER accounts_auditevent_append_only;
ALTER TABLE accounts_auditevent ENABLE ALWAYS TRIGGER accounts_auditevent_no_truncate;
"""

DROP = r"""
DROP TRIGGER IF EXISTS accounts_auditevent_no_truncate ON accounts_auditevent;
DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;
"""


def scope_existing_tokens(apps, schema_editor):
    ApiKey = apps.get_model("accounts", "ApiKey")
    ApiKey.objects.filter(kind="personal").update(
        scopes=["read", "write", "admin"], expires_at=timezone.now() + timedelta(days=90)
    )
    ApiKey.objects.filter(kind="organization").update(scopes=["read", "write"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_token_scopes_and_expiry")]

    operations = [
        migrations.RunPython(scope_existing_tokens, migrations.RunPython.noop),
        migrations.RunSQL(statements(CREATE), statements(DROP)),
    ]
