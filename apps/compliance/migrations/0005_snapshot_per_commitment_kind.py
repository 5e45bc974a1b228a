"""Snapshots per commitment kind (owner team + metric), not per version's commitment.

A period under two SLA versions used to get one snapshot per version, each over all of
the period's MQLs. Existing rows get their kind (apps/compliance/kinds.py's rule, copied
here as migrations must not import app code that may change); where one period holds
rows of two versions of one kind, the newest version's row stays, unfrozen, so the next
sweep recomputes it once over both versions, and the others go.
"""

from collections import defaultdict

from django.db import migrations, models


def _kind_keys(Commitment):
    keys = {}
    seen = defaultdict(int)
    for pk, version_id, team, metric in Commitment.objects.order_by(
        "version_id", "position", "id"
    ).values_list("pk", "version_id", "owner_team", "metric"):
        seen[(version_id, team, metric)] += 1
        ordinal = seen[(version_id, team, metric)]
        keys[pk] = f"{team}.{metric}" if ordinal == 1 else f"{team}.{metric}.{ordinal}"
    return keys


def forwards(apps, schema_editor):
    Snapshot = apps.get_model("compliance", "ComplianceSnapshot")
    Commitment = apps.get_model("sla", "Commitment")
    keys = _kind_keys(Commitment)
    groups = defaultdict(list)
    for snapshot in Snapshot.objects.select_related("commitment__version").order_by("id"):
        snapshot.kind = keys[snapshot.commitment_id]
        snapshot.versions = [snapshot.commitment.version.number]
        groups[(snapshot.kind, snapshot.period_kind, snapshot.period_start)].append(snapshot)
    changed, stale = [], []
    for rows in groups.values():
        rows.sort(key=lambda s: (s.commitment.version.effective_at, s.commitment.version_id))
        keep = rows[-1]
        if len(rows) > 1:
            keep.frozen = False
            keep.versions = sorted({s.commitment.version.number for s in rows})
            stale += [s.pk for s in rows[:-1]]
        changed.append(keep)
    Snapshot.objects.filter(pk__in=stale).delete()
    Snapshot.objects.bulk_update(changed, ["kind", "versions", "frozen"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0004_alert_found_in_backfill"),
        ("sla", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="compliancesnapshot", name="snapshot_one_per_commitment_period"
        ),
        migrations.AddField(
            model_name="compliancesnapshot",
            name="kind",
            field=models.CharField(
                default="", help_text="<owner team>.<metric>[.<n>]", max_length=80
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="compliancesnapshot",
            name="versions",
            field=models.JSONField(blank=True, default=list, help_text="SLA version numbers"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="compliancesnapshot",
            options={"ordering": ["kind", "period_kind", "period_start"]},
        ),
        migrations.AddConstraint(
            model_name="compliancesnapshot",
            constraint=models.UniqueConstraint(
                fields=("kind", "period_kind", "period_start"),
                name="snapshot_one_per_kind_period",
            ),
        ),
    ]
