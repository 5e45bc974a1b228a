"""One place that turns errors into API responses (domain errors become 4xx naming the field),
and the same errors as the OpenAPI schema documents them."""

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.accounts.exceptions import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "Request body too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    return drf_exception_handler(exc, context)


# --- the same errors, as the OpenAPI schema describes them ---------------------------------

ERROR_DESCRIPTIONS = {
    400: "Invalid input: an object naming each failing field with its messages, "
    'e.g. {"label": ["Give the reason a name."]}',
    401: "No token, or a token that is invalid, revoked or expired",
    403: "Your role may not do this (or the object is not yours to change)",
    404: "No such object in this organization",
    409: "The object's current state does not allow this change",
    413: "Too many items or too large a body",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an operation answers with (401 and 403 always:
    every endpoint needs a token and checks the role)."""
    wanted = sorted({401, 403, *codes})
    return {
        code: OpenApiResponse(response=OpenApiTypes.OBJECT, description=ERROR_DESCRIPTIONS[code])
        for code in wanted
    }
