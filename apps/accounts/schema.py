"""OpenAPI description of the API: bearer-token authentication, and the error answers every
operation can give (imported by apps/accounts/apps.py; HandoffAutoSchema is DRF's schema class).

Each operation documents its success responses itself; the errors come from shared layers
(authentication, role permission, throttles, the parser, the DomainError handler), so they
are documented here once: 400 bad input, 401 no or bad token, 403 role, 404 not found in this
organization, 409 state conflict and 413 oversize body (writes), 429 rate limit.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

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
