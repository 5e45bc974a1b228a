"""OpenAPI descriptions shared by the API (imported by apps/accounts/apps.py; module level
reads no models: it is imported while the apps load).

- The bearer-token authentication scheme.
- ``HandoffAutoSchema`` (DRF's schema class): the errors that come from shared layers
  (authentication, role permission, throttles, the parser, the DomainError handler) are
  documented on every operation that does not name them itself: 400 bad input, 401 no or bad
  token, 403 role, 404 not found in this organization, 409 state conflict and 413 oversize body
  (writes), 429 rate limit.
- ``error_responses``: an operation names the errors it answers with, in its own words.
- ``JSON_ONLY``: JSON request bodies only.

Paginated lists are documented by drf-spectacular itself (a list view sets
``pagination_class`` and answers ``Serializer(many=True)``, giving Paginated<Item>List and the
``page`` parameter), and ids in paths by the URL converters (``<int:pk>`` is an integer).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

ERROR_SCHEMA = {
    "type": "object",
    "description": 'What is wrong, by field: `{"email": ["Enter a valid email address."]}`, '
    'or `{"detail": "…"}` when no single field is at fault.',
    "additionalProperties": {},
}
ERRORS_ALWAYS = {
    "400": "Bad input: the fields at fault, each with its messages.",
    "401": "No token, or a revoked, expired or unknown one.",
    "403": "The caller's role may not do this.",
    "404": "Nothing of that id in this organization.",
    "429": "Rate limit reached (per token, per organization or per address); retry after "
    "`Retry-After` seconds.",
}
ERRORS_ON_WRITES = {
    "409": "The object's state does not allow this (e.g. a signed SLA version, a replayed "
    "webhook delivery).",
    "413": "The body or the number of items is over the limit.",
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds until the limit's window turns.",
        "required": True,
    }
}


class HandoffAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object="Error"
        )
        self.registry.register_on_missing(component)
        errors = dict(ERRORS_ALWAYS)
        if self.method != "GET":
            errors.update(ERRORS_ON_WRITES)
        for code, description in errors.items():
            if code in responses:
                continue
            response = {
                "description": description,
                "content": {"application/json": {"schema": component.ref}},
            }
            if code == "429":
                response["headers"] = RETRY_AFTER
            responses[code] = response
        return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ApiKeyAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token (acts as you, with your role) or an organization API key "
            "(acts as an integration): `Authorization: Bearer hk_…`.",
        }


ERROR_DESCRIPTIONS = {
    400: "Invalid input: an object naming each failing field with its messages, "
    'e.g. {"label": ["Give the reason a name."]}',
    401: "No token, or a token that is invalid, revoked or expired",
    403: "Your role may not do this (or the object is not yours to change)",
    404: "No such object in this organization; on a list, a page past the last one",
    409: "The object's current state does not allow this change",
    413: "Too many items or too large a body",
    415: "The request body is not JSON",
}

# Request bodies are JSON: a form or multipart body is a 415, not a parse of the fields. The
# JSON parsers are the API's own (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES), so whatever they
# check on a body (encoding, depth, text the database can store) holds here too.
JSON_ONLY = [
    parser for parser in api_settings.DEFAULT_PARSER_CLASSES if issubclass(parser, JSONParser)
]


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an operation answers with (401 and 403 always:
    every endpoint needs a token and checks the role)."""
    return {
        code: OpenApiResponse(response=OpenApiTypes.OBJECT, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 403, *codes})
    }
