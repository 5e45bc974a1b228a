"""Create the demo organization `acme` with a user of every role and realistic data (idempotent)."""

import random
from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.services import user_create
from apps.tenants.addresses import organization_url
from apps.tenants.models import Organization
from apps.tenants.services import organization_create, public_tenant_ensure

DEMO_SUBDOMAIN = "acme"
DEMO_PASSWORD = "handoff-demo-2026"  # noqa: S105 - the published demo login
DEMO_USERS = [
    # (email, name, role); the first is the admin created with the organization.
    ("admin@acme.test", "Ada Admin", "admin"),
    ("cro@acme.test", "Carla Chen", "executive"),
    ("marketing@acme.test", "Maya Patel", "marketing_leader"),
    ("marketer@acme.test", "Marco Rossi", "marketer"),
    ("sales@acme.test", "Sam Okafor", "sales_leader"),
    ("rep1@acme.test", "Riley Brooks", "rep"),
    ("rep2@acme.test", "Jordan Kim", "rep"),
    ("rep3@acme.test", "Priya Nair", "rep"),
]


def demo_seeders() -> list:
    """Each app with demo data exposes `seed(*, now, rng)` in its `demo.py`; run in app order."""
    found = []
    for config in apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        try:
            module = import_module(f"{config.name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.demo":
                raise
            continue
        found.append((config.name, module.seed))
    return found


class Command(BaseCommand):
    help = "Create the demo organization 'acme' with one user of every role and 90 days of data. Does nothing if it exists (use --reset to rebuild)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Drop and rebuild the demo organization"
        )
        parser.add_argument("--seed", type=int, default=7, help="Random seed for reproducible data")

    def handle(self, *args, **options):
        public_tenant_ensure()
        existing = Organization.objects.filter(subdomain=DEMO_SUBDOMAIN).first()
        if existing and options["reset"]:
            existing.delete(force_drop=True)
            existing = None
        if existing is None:
            email, name, _ = DEMO_USERS[0]
            organization = organization_create(
                name="Acme Analytics",
                subdomain=DEMO_SUBDOMAIN,
                admin_name=name,
                admin_email=email,
                admin_password=DEMO_PASSWORD,
            )
            with schema_context(organization.schema_name):
                for email, name, role in DEMO_USERS[1:]:
                    user_create(email=email, name=name, role=role, password=DEMO_PASSWORD)
                rng = random.Random(options["seed"])
                now = timezone.now()
                for app_name, seed in demo_seeders():
                    self.stderr.write(f"  seeding {app_name} …")
                    seed(now=now, rng=rng)
            self.stdout.write(self.style.SUCCESS("Demo organization created."))
        else:
            organization = existing
            self.stdout.write("Demo organization already exists; reusing its data.")
        self.stdout.write(
            f"\n  Open {organization_url(organization)}  (password for every demo user: {DEMO_PASSWORD})"
        )
        for email, _name, role in DEMO_USERS:
            self.stdout.write(f"    {role:<17} {email}")
