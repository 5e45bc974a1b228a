"""A real Celery worker proves that beat's fan-out runs the sweep inside each tenant's schema."""

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.compliance.models import SweepRun
from apps.tenants.tasks import tenants_fan_out_task
from tests.support.processes import celery_worker, wait_until
from tests.support.tenants import SESSION_TENANTS

pytestmark = [pytest.mark.worker]


def _runs(schema: str, since) -> list[tuple[str, str]]:
    with schema_context(schema):
        return list(
            SweepRun.objects.filter(started_at__gte=since).values_list("schema_name", "worker")
        )


def test_fan_out_runs_one_sweep_per_tenant_in_its_own_schema(db, tmp_path):
    # The test's own transaction writes nothing; under READ COMMITTED it sees the
    # rows the worker process commits.
    # Only this test's runs: other tests' workers may have left theirs behind.
    since = timezone.now()
    with celery_worker(tmp_path, name="fanout") as (_proc, log):
        queued = tenants_fan_out_task.delay()
        assert queued.id
        for schema in SESSION_TENANTS:
            wait_until(
                lambda s=schema: len(_runs(s, since)) > 0,
                timeout=45,
                message=f"a sweep in {schema}\n{log.read_text()[-2000:]}",
            )
    for schema in SESSION_TENANTS:
        runs = _runs(schema, since)
        # The row was written from inside the worker while connected to that schema.
        assert {name for name, _ in runs} == {schema}
        assert all(worker.startswith("fanout@") for _, worker in runs)


def _chart_rows(schema: str) -> int:
    from apps.dashboards.models import ChartSnapshot

    with schema_context(schema):
        return ChartSnapshot.objects.count()


def test_fan_out_keeps_each_tenants_default_charts_warm(db, tmp_path):
    from django.db import connections

    from apps.dashboards import catalog

    expected = 3 * (len(catalog.CHARTS) + 1)  # this week, month, quarter; + pipeline at risk
    try:
        with celery_worker(tmp_path, name="charts") as (_proc, log):
            assert tenants_fan_out_task.delay("charts").id
            for schema in SESSION_TENANTS:
                wait_until(
                    lambda s=schema: _chart_rows(s) >= expected,
                    timeout=90,
                    message=f"default charts in {schema}\n{log.read_text()[-2000:]}",
                )
    finally:
        # The worker committed them: remove them (outside the test's transaction) so no
        # later test reads another test's numbers.
        cleanup = connections.create_connection("default")
        try:
            with cleanup.cursor() as cursor:
                for schema in SESSION_TENANTS:
                    cursor.execute(f'DELETE FROM "{schema}".dashboards_chartsnapshot')  # noqa: S608
        finally:
            cleanup.close()
