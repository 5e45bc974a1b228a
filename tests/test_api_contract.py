"""The API keeps its published contract: a bounded schemathesis run over every operation of
the app's own OpenAPI schema (/api/schema/), with an admin token and a rep token.

Every operation the schema lists is exercised, so endpoints added later are checked without
touching this test. The run is in-process (Django's WSGI application, inside the test's
transaction, so whatever it writes is rolled back) and bounded: a few generated requests per
operation and role, with checks for server errors, undocumented status codes, content types,
response bodies and headers against the schema.
"""

from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

HOST = "http://acme.localhost"
EXAMPLES_PER_OPERATION = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@contextmanager
def in_process_requests():
    """Calls into the WSGI application share the test's connection and transaction, as
    Django's test client does: the per-request connection clean-up must not close it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def failures_of(schema, token: str) -> list[str]:
    found: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            try:
                # Each request in a savepoint of its own, as each is its own transaction in
                # production: one refused statement does not break the ones after it.
                with transaction.atomic():
                    case.call_and_validate(base_url=HOST, headers=headers, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # collected: every operation at fault
                found.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
                raise

        try:
            run()
        except (Exception, BaseExceptionGroup):  # noqa: S112 - recorded above; next operation
            continue
    return found


@pytest.mark.parametrize("role", ["admin", "rep"])
def test_every_operation_keeps_the_contract(api_as, role):
    client = api_as(role)
    with in_process_requests():
        schema = schemathesis.openapi.from_wsgi(
            "/api/schema/", application, headers={"Host": "acme.localhost"}
        )
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 50
        failures = failures_of(schema, client.token)
    assert failures == [], "\n\n".join(failures)
