"""MQL explanations compressed with LZ4 instead of pglz.

An explanation is ~2 KB of JSON, so PostgreSQL compresses every new one; a batch of
1,000 new MQLs spent ~20-25 ms of its insert in pglz, LZ4 takes a fraction of that
(and reads back faster). Only values written from now on use it: existing rows stay as
they are, and both read the same. A server built without LZ4 keeps pglz.
"""

from django.db import migrations

LZ4 = """
DO $$ BEGIN
    ALTER TABLE mql_mqlevent ALTER COLUMN explanation SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;  -- a server built without LZ4: pglz stays
END $$;
"""
PGLZ = "ALTER TABLE mql_mqlevent ALTER COLUMN explanation SET COMPRESSION pglz;"


class Migration(migrations.Migration):
    dependencies = [("mql", "0002_backtestrun_definitioncomment")]

    operations = [migrations.RunSQL(LZ4, PGLZ)]
