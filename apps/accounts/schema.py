"""OpenAPI descriptions shared by the API: the bearer-token authentication (registered by
AccountsConfig.ready), the error statuses an operation answers with, paginated lists, object
ids in paths, and the JSON-only request bodies.

A client (or the schemathesis run) relies on the schema naming every status an operation can
return and the real shape of each answer: a paginated list is an object with ``results``, not
a bare array.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser


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
    404: "No such object in this organization",
    409: "The object's current state does not allow this change",
    413: "Too many items or too large a body",
    415: "The request body is not JSON",
}

# Request bodies are JSON: a form or multipart body is a 415, not a parse of the fields.
JSON_ONLY = [JSONParser]


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an operation answers with (401 and 403 always:
    every endpoint needs a token and checks the role)."""
    return {
        code: OpenApiResponse(response=OpenApiTypes.OBJECT, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 403, *codes})
    }


def paginated(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """The page of a PageNumberPagination list of ``serializer_class`` items, as a component
    named Paginated<Item>List (what DRF's generic list views would be documented as)."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        f"Paginated{name}List",
        {
            "count": serializers.IntegerField(help_text="Items in all pages"),
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null"),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page"),
            "results": serializer_class(many=True),
        },
    )


# A paginated list's page (50 items each); a page past the last one is a 404.
PAGE = OpenApiParameter(
    "page",
    {"type": "integer", "minimum": 1},
    OpenApiParameter.QUERY,
    description="Page number, from 1 (50 items a page; past the last page: 404)",
)


def id_in_path(name: str = "id", description: str = "The object's id") -> OpenApiParameter:
    """An id in the URL: a positive integer (anything else matches no route). The schema names
    a ``<int:pk>`` kwarg ``id``, so that is the default name."""
    return OpenApiParameter(
        name, {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description=description
    )
