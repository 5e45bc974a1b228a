"""Recompute compliance snapshots for a date range (idempotent): for back-filled history."""

from datetime import UTC, date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.compliance.services import snapshots_recompute
from apps.dashboards.snapshots import snapshots_forget
from apps.tenants.selectors import organization_active_list


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"{text!r} is not a date as YYYY-MM-DD") from error


class Command(BaseCommand):
    help = (
        "Compute the snapshot of every commitment for each week, month and quarter overlapping "
        "--from..--to, in one organization (--schema) or all. Closed periods are stored frozen, "
        "as of their end; running it again changes nothing. Frozen snapshots are kept unless "
        "--include-frozen (use it after importing history into periods already frozen; it also "
        "forgets the stored charts of those periods)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="First day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="Last day, YYYY-MM-DD")
        parser.add_argument("--schema", help="Only this organization's schema")
        parser.add_argument(
            "--include-frozen", action="store_true", help="Also rewrite frozen snapshots"
        )

    def handle(self, *args, **options):
        first, last = _day(options["first"]), _day(options["last"])
        if last < first:
            raise CommandError("--to is before --from")
        organizations = organization_active_list()
        if options["schema"]:
            organizations = organizations.filter(schema_name=options["schema"])
            if not organizations.exists():
                raise CommandError(f"no active organization with schema {options['schema']!r}")
        now = timezone.now()
        for organization in organizations:
            with schema_context(organization.schema_name):
                written = snapshots_recompute(
                    first_day=first,
                    last_day=last,
                    now=now,
                    include_frozen=options["include_frozen"],
                )
                forgotten = 0
                if options["include_frozen"]:
                    # Stored charts of those periods are recomputed on their next read.
                    forgotten = snapshots_forget(
                        start=datetime.combine(first, time.min, tzinfo=UTC) - timedelta(days=1),
                        end=datetime.combine(last, time.max, tzinfo=UTC) + timedelta(days=1),
                    )
            self.stdout.write(
                f"{organization.schema_name}: {written} snapshot(s) written"
                + (f", {forgotten} stored chart(s) forgotten" if forgotten else "")
            )
