"""Create (and drop) a throwaway organization with the known dataset, committed, for the
browser journey: the live server is another process and only sees committed rows.

Run as ``python -m tests.dashboards.browser_setup create|create-empty|drop <subdomain>`` with
the test database in DATABASE_URL (tests.support.processes.child_env). ``create-empty`` makes
a new organization with its executive and no data at all (the charts' empty states).
"""

import sys

PASSWORD = "amber-kettle-31-dash"


def create(subdomain: str) -> None:
    from datetime import timedelta

    from django_tenants.utils import schema_context

    from apps.compliance.services import snapshots_recompute
    from apps.tenants.services import organization_create
    from tests.dashboards.factories import closed_deals, history, known_dataset

    organization = organization_create(
        name="Dash Demo",
        subdomain=subdomain,
        admin_name="Dash Admin",
        admin_email=f"admin@{subdomain}.test",
        admin_password=PASSWORD,
    )
    with schema_context(organization.schema_name):
        from apps.accounts.models import User

        User.objects.create_user(
            email=f"cro@{subdomain}.test", name="Carla Chen", role="executive", password=PASSWORD
        )
        data = known_dataset()
        history(data, weeks=7)
        closed_deals(data)
        snapshots_recompute(
            first_day=(data.week.start - timedelta(days=63)).date(), last_day=data.now.date()
        )


def create_empty(subdomain: str) -> None:
    from django_tenants.utils import schema_context

    from apps.tenants.services import organization_create

    organization = organization_create(
        name="Fresh Start",
        subdomain=subdomain,
        admin_name="Fresh Admin",
        admin_email=f"admin@{subdomain}.test",
        admin_password=PASSWORD,
    )
    with schema_context(organization.schema_name):
        from apps.accounts.models import User

        User.objects.create_user(
            email=f"cro@{subdomain}.test", name="Carla Chen", role="executive", password=PASSWORD
        )


def drop(subdomain: str) -> None:
    from apps.tenants.models import Organization

    organization = Organization.objects.filter(subdomain=subdomain).first()
    if organization is not None:
        organization.delete(force_drop=True)


def main() -> None:
    import django

    django.setup()
    action, subdomain = sys.argv[1], sys.argv[2]
    {"create": create, "create-empty": create_empty, "drop": drop}[action](subdomain)


if __name__ == "__main__":
    main()
