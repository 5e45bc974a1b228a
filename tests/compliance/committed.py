"""Committed rows for tests with real worker processes.

Tests run inside a transaction that is rolled back, so a Celery worker (another
process, another connection) never sees what they write. ``CommittedWorld`` swaps
Django's default connection for a fresh one in autocommit mode, in the tenant's
schema, for the duration of a ``with world.writes():`` block: everything the ORM
writes there is committed at once and visible to the worker, and everything the
test reads there sees what the worker committed. The test's own transaction is
left untouched (and must not hold rows the committed ones point to: create every
row of such a test inside ``writes()``).

``cleanup()`` deletes what the test created. Signed SLA versions are guarded by triggers
(the app's role may not delete them); the cleanup runs as the owner role with those
triggers lifted for its transaction (tests/support/database.py), so the test leaves acme
as it found it for the tests that follow.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connections
from django.utils import timezone

from tests.accounts.factories import UserFactory
from tests.compliance import factories as f
from tests.support.database import evidence_guards_lifted
from tests.support.tenants import SESSION_TENANTS


class CommittedWorld:
    def __init__(self, schema: str = "acme"):
        self.schema = schema
        self.started = timezone.now()
        self.users: list = []
        self.leads: list = []
        self.versions: list = []

    @contextmanager
    def writes(self, schema: str | None = None):
        original = connections["default"]
        fresh = connections.create_connection("default")
        connections["default"] = fresh
        try:
            fresh.set_schema(schema or self.schema)
            yield
        finally:
            fresh.close()
            connections["default"] = original

    # --- builders (call inside writes()) -----------------------------------------------

    def user(self, role: str, **kwargs):
        user = UserFactory(role=role, **kwargs)
        self.users.append(user)
        return user

    def version(self, *, commitments, effective_at: datetime | None = None):
        version = f.signed_version(
            effective_at=effective_at or timezone.now() - timedelta(hours=1),
            commitments=commitments,
        )
        self.versions.append(version)
        return version

    def mql_with_clock(self, *, commitment, owner, mql_at: datetime, due_at: datetime, **lead):
        lead_row = f.lead(owner=owner, **lead)
        self.leads.append(lead_row)
        event = f.mql_event(lead=lead_row, at=mql_at)
        return f.clock(event=event, commitment=commitment, due_at=due_at)

    def cleanup(self) -> None:
        from apps.accounts.models import User
        from apps.compliance.models import AlertSettings, SweepRun
        from apps.leads.models import Lead
        from apps.mql.models import MqlDefinition
        from apps.sla.models import SlaContract

        with evidence_guards_lifted(self.schema):
            Lead.objects.filter(pk__in=[lead.pk for lead in self.leads]).delete()
            definitions = [v.mql_definition_id for v in self.versions]
            SlaContract.objects.filter(pk__in=[v.contract_id for v in self.versions]).delete()
            MqlDefinition.objects.filter(pk__in=definitions).delete()
            User.objects.filter(pk__in=[u.pk for u in self.users]).delete()
            AlertSettings.objects.filter(pk=1).update(
                webhook_enabled=False, webhook_url="", webhook_secret="", due_soon_share=None
            )
        # The workers' sweeps (beat fans out to every organization) leave their run records.
        for schema in SESSION_TENANTS:
            with self.writes(schema):
                SweepRun.objects.filter(started_at__gte=self.started).delete()
