"""Seal sign-off evidence made before keyed signatures; with --check, verify every version."""

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, tenant_context

from apps.sla import selectors, services
from apps.sla.models import SlaVersion
from apps.tenants.models import Organization


class Command(BaseCommand):
    help = (
        "Give signatures made before keyed signatures their place in the chain and their MAC, "
        "seal their versions, and move version seals to the current key (SLA_SIGNING_KEYS). "
        "Idempotent: run after every upgrade and key rotation. --check verifies every signed "
        "or submitted version instead and exits 1 when any finding is reported."
    )

    def add_arguments(self, parser):
        parser.add_argument("--schema", help="one organization's schema (default: all)")
        parser.add_argument("--check", action="store_true", help="verify only, change nothing")

    def handle(self, *args, **options):
        organizations = Organization.objects.exclude(schema_name=get_public_schema_name())
        if options["schema"]:
            organizations = organizations.filter(schema_name=options["schema"])
            if not organizations.exists():
                raise CommandError(f"No organization with schema {options['schema']!r}.")
        failed = False
        for organization in organizations.order_by("schema_name"):
            with tenant_context(organization):
                if options["check"]:
                    failed |= self._check(organization)
                else:
                    failed |= self._seal(organization)
        if failed:
            raise CommandError("Some sign-off evidence does not hold (see above).")

    def _seal(self, organization) -> bool:
        report = services.evidence_seal()
        self.stdout.write(
            f"{organization.schema_name}: {report.signatures_sealed} signature(s) and "
            f"{report.versions_sealed} version(s) sealed, {report.versions_rekeyed} re-keyed"
        )
        for line in report.refused:
            self.stderr.write(f"{organization.schema_name}: not sealed, {line}")
        return bool(report.refused)

    def _check(self, organization) -> bool:
        failed = False
        versions = selectors.version_detail_queryset().exclude(status="draft", signing_round=0)
        for version in versions.order_by("id"):
            result = selectors.version_verify(version=version)
            state = "intact" if result.is_intact else "NOT INTACT"
            self.stdout.write(f"{organization.schema_name} v{version.number}: {state}")
            for problem in result.problems:
                self.stdout.write(f"  - {problem.code}: {problem.message}")
            failed |= not result.is_intact
        if not SlaVersion.objects.exists():
            self.stdout.write(f"{organization.schema_name}: no SLA versions")
        return failed
