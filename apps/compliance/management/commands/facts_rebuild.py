"""Rebuild the per-MQL-event fact table from the raw facts (after a restore, or to check it)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.compliance.facts import REBUILD_CHUNK, facts_rebuild
from apps.tenants.selectors import organization_active_list


class Command(BaseCommand):
    help = (
        "Empty the per-MQL-event fact table (MqlEventFact) and compute every row again from "
        "the raw facts — MQL events, leads, assignments, SLA clocks, touches, dispositions, "
        "stage changes — with the same SQL the hand-off runs incrementally, in one organization "
        "(--schema) or all, one transaction per organization. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--schema", help="Only this organization's schema")
        parser.add_argument(
            "--chunk",
            type=int,
            default=REBUILD_CHUNK,
            help=f"Leads per statement round (default {REBUILD_CHUNK})",
        )

    def handle(self, *args, **options):
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1")
        organizations = organization_active_list()
        if options["schema"]:
            organizations = organizations.filter(schema_name=options["schema"])
            if not organizations.exists():
                raise CommandError(f"no active organization with schema {options['schema']!r}")
        now = timezone.now()
        for organization in organizations:
            with schema_context(organization.schema_name):
                written = facts_rebuild(now=now, chunk=options["chunk"])
            self.stdout.write(
                f"{organization.schema_name}: {written} MQL event fact row(s) written"
            )
