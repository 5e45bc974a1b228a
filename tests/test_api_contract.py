"""The API keeps its published contract: a bounded schemathesis run over every operation of
the app's own OpenAPI schema (/api/schema/), with an admin token and a rep token.

Every operation the schema lists is exercised, so endpoints added later are checked without
touching this test. The run is in-process (Django's WSGI application, inside the test's
transaction, so whatever it writes is rolled back) and bounded: a few generated requests per
operation and role, with checks for server errors, undocumented status codes, content types,
response bodies and headers against the schema.
"""

from contextlib import contextmanager, suppress

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

HOST = "http://acme.localhost"
# Valid requests: no server error; status codes, content types, bodies and headers as
# documented. Invalid requests (wrong types, values outside an enum, missing fields): refused
# with a 4xx, never accepted and never a 500.
CHECKS = {
    GenerationMode.POSITIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ],
    GenerationMode.NEGATIVE: [not_a_server_error, negative_data_rejection],
}
EXAMPLES = {GenerationMode.POSITIVE: 3, GenerationMode.NEGATIVE: 2}


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


def _operation_failures(operation, headers: dict, mode: GenerationMode) -> list[str]:
    found: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES[mode],
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
                case.call_and_validate(base_url=HOST, headers=headers, checks=CHECKS[mode])
        except (Exception, BaseExceptionGroup) as exc:  # collected: every operation at fault
            found.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
            raise

    with suppress(Exception, BaseExceptionGroup):  # recorded in `found`; on to the next one
        run()
    return found[:1]


@pytest.mark.parametrize(
    ("role", "mode"),
    [
        ("admin", GenerationMode.POSITIVE),
        ("rep", GenerationMode.POSITIVE),
        ("admin", GenerationMode.NEGATIVE),
    ],
    ids=["admin-valid", "rep-valid", "admin-invalid"],
)
def test_every_operation_keeps_the_contract(api_as, role, mode):
    client = api_as(role)
    headers = {"Authorization": f"Bearer {client.token}"}
    with in_process_requests():
        schema = schemathesis.openapi.from_wsgi(
            "/api/schema/", application, headers={"Host": "acme.localhost"}
        )
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 50
        failures = [f for op in operations for f in _operation_failures(op, headers, mode)]
    assert failures == [], "\n\n".join(failures)


def test_an_empty_choice_in_a_query_string_is_refused(api_as):
    client = api_as("executive")
    response = client.get("/api/v1/dashboards/scorecard/", {"team": ""})
    assert response.status_code == 400 and "team" in response.json()
    assert client.get("/api/v1/dashboards/scorecard/", {"team": "sales"}).status_code == 200
