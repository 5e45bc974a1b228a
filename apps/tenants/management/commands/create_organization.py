"""Create an organization with its first admin, without the browser."""

import os

from django.core.management.base import BaseCommand, CommandError

from apps.tenants.addresses import organization_url
from apps.tenants.exceptions import OrganizationError
from apps.tenants.services import organization_create, public_tenant_ensure


class Command(BaseCommand):
    help = (
        "Create an organization (its own schema and <subdomain>.<BASE_DOMAIN> domain) and its admin. "
        "The password comes from --admin-password or the HANDOFF_ADMIN_PASSWORD environment variable."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Organization name, e.g. 'Acme Corp'")
        parser.add_argument("--subdomain", required=True, help="e.g. acme -> acme.<BASE_DOMAIN>")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument(
            "--admin-password",
            default=None,
            help="Prefer HANDOFF_ADMIN_PASSWORD: argv is visible to other users",
        )

    def handle(self, *args, **options):
        password = options["admin_password"] or os.environ.get("HANDOFF_ADMIN_PASSWORD")
        if not password:
            raise CommandError("Give a password with --admin-password or HANDOFF_ADMIN_PASSWORD.")
        public_tenant_ensure()
        try:
            organization = organization_create(
                name=options["name"],
                subdomain=options["subdomain"],
                admin_name=options["admin_name"] or options["admin_email"].split("@")[0],
                admin_email=options["admin_email"],
                admin_password=password,
            )
        except OrganizationError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created {organization.name}: {organization_url(organization)}")
        )
