"""Committed data for the browser journey, written by a separate process (so the live server
sees it while the test runs inside its own transaction) and removed the same way.

Run as `python -m tests.dispositions.journey_data create|remove <json>` against the test
database (tests.support.processes.child_env); `create` prints the ids as JSON.
"""

import json
import sys
from datetime import timedelta

PASSWORD = "queue-journey-2026"
SCHEMA = "acme"


def create() -> dict:
    from django.utils import timezone

    from apps.accounts.models import User
    from tests.dispositions import factories as f

    rep = User.objects.create_user(
        "journey-rep@acme.test", PASSWORD, name="Riley Journey", role="rep"
    )
    marketing = User.objects.create_user(
        "journey-marketing@acme.test", PASSWORD, name="Maya Journey", role="marketing_leader"
    )
    # A draft: its calendar drives the clocks, yet no other test can find it "in force", and it
    # can be deleted afterwards (a signed version cannot).
    version = f.sla_version(effective_at=timezone.now() - timedelta(days=30), signed=False)
    definition = f.mql_definition()
    now = timezone.now()
    call_me = f.mql_lead(
        owner=rep,
        mql_at=now - timedelta(minutes=30),
        version=version,
        definition=definition,
        first_name="Casey",
        last_name="Caller",
        company="Northwind",
        source="webinar",
    )
    reject_me = f.mql_lead(
        owner=rep,
        mql_at=now - timedelta(minutes=40),
        version=version,
        definition=definition,
        first_name="Robin",
        last_name="Rejected",
        company="Contoso",
        source="content_syndication",
        campaign="State of Ops ebook",
    )
    return {
        "rep": rep.pk,
        "marketing": marketing.pk,
        "call_me": call_me.pk,
        "reject_me": reject_me.pk,
        "contract": version.contract_id,
        "definition": definition.pk,
    }


def remove(ids: dict) -> None:
    from apps.accounts.models import User
    from apps.leads.models import Lead
    from apps.mql.models import MqlDefinition
    from apps.sla.models import SlaContract

    Lead.objects.filter(pk__in=[ids["call_me"], ids["reject_me"]]).delete()
    SlaContract.objects.filter(pk=ids["contract"]).delete()
    MqlDefinition.objects.filter(pk=ids["definition"]).delete()
    User.objects.filter(pk__in=[ids["rep"], ids["marketing"]]).delete()


if __name__ == "__main__":
    import django

    django.setup()
    from django_tenants.utils import schema_context

    with schema_context(SCHEMA):
        if sys.argv[1] == "create":
            print(json.dumps(create()))
        else:
            remove(json.loads(sys.argv[2]))
