"""The OpenAPI schema tells a client what the integration endpoints really answer: lists as
pages (count, next, previous, results), JSON-only bodies, and each operation's error statuses
(apps/accounts/schema.py)."""

import pytest

# The integration lists and their page components (drf-spectacular's, from the views'
# pagination_class); the routing rules take no filter, so they have no 400 to document.
LISTS = {
    "/api/v1/reason-codes/": "PaginatedReasonCodeDetailOutputList",
    "/api/v1/routing-rules/": "PaginatedRoutingRuleOutputList",
    "/api/v1/alerts/": "PaginatedAlertOutputList",
    "/api/v1/notifications/": "PaginatedNotificationOutputList",
    "/api/v1/compliance/{commitment_id}/escalations/": "PaginatedEscalationOutputList",
}
JSON_BODIES = [
    ("/api/v1/reason-codes/", "post"),
    ("/api/v1/reason-codes/{id}/", "patch"),
    ("/api/v1/reason-codes/reorder/", "post"),
    ("/api/v1/routing-rules/", "post"),
    ("/api/v1/routing-rules/{id}/", "patch"),
    ("/api/v1/routing-rules/reorder/", "post"),
    ("/api/v1/sla/calendars/preview/", "post"),
]


@pytest.fixture
def schema(anon_client) -> dict:
    response = anon_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_lists_are_documented_as_the_pages_they_answer(schema):
    for path, component in LISTS.items():
        operation = schema["paths"][path]["get"]
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{component}"}, path
        page = schema["components"]["schemas"][component]
        assert {"count", "next", "previous", "results"} <= set(page["properties"]), path
        assert page["properties"]["results"]["type"] == "array"
        assert "page" in {p["name"] for p in operation["parameters"]}, path
        assert {"401", "403", "404"} <= set(operation["responses"]), path
        filters = {p["name"] for p in operation["parameters"] if p["in"] == "query"} - {"page"}
        # A list with filters answers 400 for a bad one; the schema class documents 400 on
        # every operation anyway (bad input anywhere, e.g. a NUL in a query string).
        if filters:
            assert "400" in operation["responses"], path


def test_bodies_are_json_only_and_a_form_is_documented_as_refused(schema):
    for path, method in JSON_BODIES:
        operation = schema["paths"][path][method]
        assert set(operation["requestBody"]["content"]) == {"application/json"}, path
        assert {"400", "401", "403", "415"} <= set(operation["responses"]), path


def test_a_conflicting_reorder_and_a_missing_object_are_documented(schema):
    for path in ("/api/v1/reason-codes/reorder/", "/api/v1/routing-rules/reorder/"):
        assert "409" in schema["paths"][path]["post"]["responses"], path
    for path, method in [
        ("/api/v1/reason-codes/{id}/", "get"),
        ("/api/v1/reason-codes/{id}/retire/", "post"),
        ("/api/v1/routing-rules/{id}/", "delete"),
        ("/api/v1/alerts/{id}/", "get"),
        ("/api/v1/notifications/{id}/read/", "post"),
        ("/api/v1/sla/calendars/{id}/preview/", "get"),
    ]:
        operation = schema["paths"][path][method]
        assert "404" in operation["responses"], (path, method)
        path_ids = [p for p in operation["parameters"] if p["in"] == "path"]
        assert [p["schema"]["type"] for p in path_ids] == ["integer"], (path, method)
