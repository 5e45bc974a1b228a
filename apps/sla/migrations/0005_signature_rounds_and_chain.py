"""Keyed, chained signatures and signing rounds (README, "Sign-off").

Signatures become append-only, so a change after submission no longer stamps
`withdrawn_at` on them: each submission opens a signing round on the version, and a
signature of an earlier round (or of a version back in draft) is withdrawn. Existing
rows get their rounds from their withdrawal times. The chain fields (sequence, key id,
previous MAC, MAC) stay empty here: sealing needs the key, which lives outside the
database — `manage.py sla_seal` fills them once (scripts/run and the Procfile's release
run it). The triggers that refuse edits are dropped first and recreated, stronger, by
0006.
"""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from apps.tenants.sql_statements import statements

DROP_GUARDS = r"""
DROP TRIGGER IF EXISTS sla_signature_signed_guard ON sla_signature;
DROP TRIGGER IF EXISTS sla_escalationrule_signed_guard ON sla_escalationrule;
DROP TRIGGER IF EXISTS sla_commitment_signed_guard ON sla_commitment;
DROP TRIGGER IF EXISTS sla_slaversion_signed_guard ON sla_slaversion;
"""


def rounds_from_withdrawals(apps, schema_editor):
    SlaVersion = apps.get_model("sla", "SlaVersion")
    Signature = apps.get_model("sla", "Signature")
    by_version: dict[int, list] = {}
    for signature in Signature.objects.order_by("signed_at", "id"):
        by_version.setdefault(signature.version_id, []).append(signature)
    for version in SlaVersion.objects.all():
        signatures = by_version.get(version.pk, [])
        # Signatures withdrawn together belong to one round; rounds follow withdrawal order.
        withdrawals = sorted({s.withdrawn_at for s in signatures if s.withdrawn_at is not None})
        current = len(withdrawals) + (0 if version.status == "draft" else 1)
        for signature in signatures:
            if signature.withdrawn_at is not None:
                signature.round = withdrawals.index(signature.withdrawn_at) + 1
            else:
                signature.round = current
        Signature.objects.bulk_update(signatures, ["round"])
        version.signing_round = current
        version.save(update_fields=["signing_round"])


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0004_signed_versions_never_overlap"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(statements(DROP_GUARDS), migrations.RunSQL.noop),
        migrations.AddField(
            model_name="signature",
            name="round",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="slaversion",
            name="signing_round",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(rounds_from_withdrawals, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="signature",
            options={"ordering": ["signed_at", "id"]},
        ),
        migrations.RemoveConstraint(
            model_name="signature",
            name="signature_one_live_per_team",
        ),
        migrations.RemoveField(
            model_name="signature",
            name="withdrawn_at",
        ),
        migrations.AddField(
            model_name="signature",
            name="key_id",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="signature",
            name="mac",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="signature",
            name="previous_mac",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="signature",
            name="sequence",
            field=models.PositiveIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="slaversion",
            name="based_on",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="sla.slaversion",
            ),
        ),
        migrations.AddField(
            model_name="slaversion",
            name="seal",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="slaversion",
            name="seal_key_id",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="slaversion",
            name="sealed_signatures",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.PositiveIntegerField(), blank=True, default=list, size=None
            ),
        ),
        migrations.AlterField(
            model_name="slaversionchange",
            name="author",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="slaversionchange",
            name="version",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="changes",
                to="sla.slaversion",
            ),
        ),
        migrations.AddConstraint(
            model_name="signature",
            constraint=models.UniqueConstraint(
                fields=("version", "round", "team"), name="signature_one_per_team_and_round"
            ),
        ),
    ]
