"""Issue a personal API token without a browser: the first token of an integration."""

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, tenant_context

from apps.accounts import services
from apps.accounts.exceptions import DomainError
from apps.accounts.models import Scope, User
from apps.tenants.models import Organization

DURATION = re.compile(r"^(\d+)\s*([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_expiry(text: str) -> timedelta:
    """ "90d", "12h", "30m" → a timedelta (CommandError otherwise)."""
    match = DURATION.match((text or "").strip().lower())
    if not match or int(match.group(1)) == 0:
        raise CommandError(
            f"--expires-in {text!r}: write a number and a unit, e.g. 90d, 12h or 30m."
        )
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = (
        "Create a personal API token for a user of an organization and print it once. "
        "The organization is named by --organization (its subdomain) or --schema. "
        "Scopes: read, write, sign, admin (comma-separated; default read,write). "
        "--expires-in: e.g. 90d, 12h, 30m (default PERSONAL_TOKEN_MAX_AGE_DAYS days)."
    )

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--organization", help="the organization's subdomain, e.g. acme")
        where.add_argument("--schema", help="the organization's schema name")
        parser.add_argument("--email", required=True, help="the user the token acts as")
        parser.add_argument("--name", default="", help="what the token is for")
        parser.add_argument("--expires-in", default=None, help="e.g. 90d, 12h or 30m")
        parser.add_argument("--scopes", default="read,write", help="e.g. read,write,sign")

    def handle(self, *args, **options):
        lookup = (
            {"subdomain": options["organization"]}
            if options["organization"]
            else {"schema_name": options["schema"]}
        )
        organization = (
            Organization.objects.exclude(schema_name=get_public_schema_name())
            .filter(**lookup)
            .first()
        )
        if organization is None:
            raise CommandError(f"No organization {next(iter(lookup.values()))!r}.")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        unknown = [s for s in scopes if s not in Scope.values]
        if unknown:
            raise CommandError(
                f"--scopes: unknown scope {unknown[0]!r}; choose from {', '.join(Scope.values)}."
            )
        expires_in = (
            parse_expiry(options["expires_in"])
            if options["expires_in"]
            else services.DEFAULT_EXPIRY
        )
        with tenant_context(organization):
            user = User.objects.filter(email__iexact=options["email"].strip()).first()
            if user is None:
                raise CommandError(f"No user {options['email']!r} in {organization.name}.")
            try:
                key, raw = services.api_key_create(
                    name=options["name"] or f"Token for {user.email} (command line)",
                    created_by=None,
                    user=user,
                    scopes=scopes,
                    expires_in=expires_in,
                )
            except DomainError as exc:
                raise CommandError(f"{exc.field}: {exc.message}") from exc
        self.stderr.write(
            f"Token “{key.name}” for {user.email} in {organization.name}: scopes "
            f"{', '.join(key.scopes)}, expires {key.expires_at:%Y-%m-%d %H:%M} UTC. "
            "It is shown once:"
        )
        self.stdout.write(raw)
