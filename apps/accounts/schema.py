"""OpenAPI descriptions shared by the API: the bearer-token authentication (registered by
the import in apps/accounts/apps.py), the error statuses an operation answers with, and
JSON-only bodies. Module level reads no models: it is imported while the apps load.

Kept small on purpose: paginated lists are documented by drf-spectacular itself (a list view
sets ``pagination_class`` and answers ``Serializer(many=True)``, giving Paginated<Item>List and
the ``page`` parameter), and ids in paths by the URL converters (``<int:pk>`` is an integer).
An operation names the errors it answers with ``error_responses``.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings


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
