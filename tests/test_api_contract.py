"""The API keeps its published contract: a bounded schemathesis run over every operation of
the app's own OpenAPI schema (/api/schema/), with an admin token and a rep token.

Every operation the schema lists is exercised, so endpoints added later are checked without
touching this test. The run is in-process (Django's WSGI application, inside the test's
transaction, so whatever it writes is rolled back) and bounded: a few generated requests per
operation and role, with checks for server errors, undocumented status codes, content types,
response bodies and headers against the schema.

Bulk endpoints (dispositions/bulk, touches/bulk, leads/upsert, activities/ingest, the CRM
webhooks) report row by row by design: an invalid item is rejected by its index (a 200
report, or 207/400 for leads and activities, see README). For them an invalid request is
correctly handled when it is refused with a 4xx, or when the report rejects every row sent;
a report that stores (or finds unchanged) any row of the generated invalid batch still fails.
"""

import json
from contextlib import contextmanager, suppress

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.leads.factories import LeadFactory

HOST = "http://acme.localhost"


def _rows_sent(response) -> list | None:
    """The items of a bulk request as the server received them: a JSON list, or the list
    under "items"; None when the body is neither."""
    try:
        body = json.loads(response.request.body or b"")
    except (TypeError, ValueError):
        return None
    rows = body.get("items") if isinstance(body, dict) else body
    return rows if isinstance(rows, list) and rows else None


def _every_row_rejected(response) -> bool:
    """A bulk report that rejects every row sent, each by its index with its errors, and
    stores nothing: a count other than `rejected` is zero and no lead id is reported."""
    rows = _rows_sent(response)
    try:
        report = response.json()
    except ValueError:
        return False
    if rows is None or not isinstance(report, dict) or report.get("rejected") != len(rows):
        return False
    counts = [v for k, v in report.items() if k != "rejected" and isinstance(v, int)]
    if any(counts) or report.get("lead_ids"):
        return False
    # dispositions/bulk: "results", every row with its status; the others: "errors" by index
    per_row = report["results"] if isinstance(report.get("results"), list) else report.get("errors")
    if not isinstance(per_row, list) or not all(isinstance(entry, dict) for entry in per_row):
        return False
    return sorted(entry.get("index", -1) for entry in per_row) == list(range(len(rows))) and all(
        entry.get("status", "rejected") == "rejected" and entry.get("errors") for entry in per_row
    )


def negative_data_rejected_row_by_row(ctx, response, case):
    """negative_data_rejection, except that a bulk report rejecting every row of the invalid
    batch is a refusal too (a 200 that accepts any row still fails)."""
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if response.status_code < 300 and _every_row_rejected(response):
            return None
        raise


# Valid requests: no server error; status codes, content types, bodies and headers as
# documented. Invalid requests (wrong types, values outside an enum, missing fields): refused
# with a 4xx (a bulk endpoint: or every row rejected in its report), never accepted, never a 500.
CHECKS = {
    GenerationMode.POSITIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ],
    GenerationMode.NEGATIVE: [not_a_server_error, negative_data_rejected_row_by_row],
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


class _Answer:
    """A Django test response seen the way a schemathesis check sees it (the request body sent,
    the JSON answered)."""

    def __init__(self, body: dict | list, response):
        self.request = type("Sent", (), {"body": json.dumps(body).encode()})()
        self.status_code = response.status_code
        self._response = response

    def json(self):
        return self._response.json()


@pytest.mark.parametrize(
    ("url", "valid", "invalid"),
    [
        (
            "/api/v1/dispositions/bulk/",
            {"lead": "B1", "outcome": "accepted"},
            {"lead": "B1", "outcome": "accepted", "actor": "not an email"},
        ),
        (
            "/api/v1/touches/bulk/",
            {
                "external_id": "t-ok",
                "lead": "B1",
                "kind": "call",
                "occurred_at": "2025-03-03T10:00Z",
            },
            {
                "external_id": "t-bad",
                "lead": "B1",
                "kind": "fax",
                "occurred_at": "2025-03-03T10:00Z",
            },
        ),
        ("/api/v1/leads/upsert/", {"external_id": "B2"}, {"external_id": "B3", "email": "bad"}),
        (
            "/api/v1/activities/ingest/",
            {
                "external_id": "a-ok",
                "lead": "B1",
                "kind": "page_view",
                "occurred_at": "2025-03-03T10:00Z",
            },
            {
                "external_id": "a-bad",
                "lead": "B1",
                "kind": "telepathy",
                "occurred_at": "2025-03-03T10:00Z",
            },
        ),
    ],
    ids=["dispositions-bulk", "touches-bulk", "leads-upsert", "activities-ingest"],
)
def test_a_bulk_report_counts_as_a_refusal_only_when_every_row_is_rejected(
    api_as, url, valid, invalid
):
    """The negative pass's bulk allowance is strict: a report rejecting every invalid row is a
    refusal; one that stores any row of the batch is not, whatever its status."""
    client = api_as("admin")
    LeadFactory(external_id="B1")
    with transaction.atomic():
        sent = {"items": [invalid, invalid]}
        rejected = client.post(url, sent, content_type="application/json")
        assert rejected.status_code in (200, 400), rejected.content
        assert _every_row_rejected(_Answer(sent, rejected)), rejected.content
    sent = {"items": [valid, invalid]}
    mixed = client.post(url, sent, content_type="application/json")
    assert mixed.status_code in (200, 207) and mixed.json()["rejected"] == 1, mixed.content
    assert not _every_row_rejected(_Answer(sent, mixed))
    # the same row's errors by index, and nothing stored for it: a valid row alone is accepted
    assert not _every_row_rejected(_Answer({"items": [valid]}, mixed))
