"""At most one signed SLA version is in force at any instant.

Each signed version governs [effective_at, superseded_at); signing a new one cuts the
intervals it overlaps (apps.sla.services._version_activate). This exclusion constraint
makes PostgreSQL enforce it, so SlaVersion.objects.in_force_at(t) can never find two.
A version cut before it started has an empty interval (GREATEST keeps the range valid),
and an empty range overlaps nothing.
"""

from django.db import migrations

CREATE = """
ALTER TABLE sla_slaversion ADD CONSTRAINT slaversion_in_force_never_overlaps
EXCLUDE USING gist (
    tstzrange(
        effective_at,
        GREATEST(effective_at, COALESCE(superseded_at, 'infinity'::timestamptz)),
        '[)'
    ) WITH &&
) WHERE (status IN ('active', 'superseded') AND effective_at IS NOT NULL);
"""

DROP = "ALTER TABLE sla_slaversion DROP CONSTRAINT IF EXISTS slaversion_in_force_never_overlaps;"


class Migration(migrations.Migration):
    dependencies = [("sla", "0003_signed_version_guard")]

    operations = [migrations.RunSQL(CREATE, DROP)]
