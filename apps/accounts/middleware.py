"""Bad input on HTML pages is a 400 page, never a 500.

Query strings and form fields are checked once here for text PostgreSQL cannot hold
(a NUL character), so every page's filters and forms are covered without each view
repeating the check; values the database still refuses (a date out of its range) and
date arithmetic that overflows become the same 400 page. The API has its own parser
and exception handler (api_parsers, api_errors) and answers JSON.
"""

import logging

from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from apps.accounts.input_bounds import DATE_RANGE_MESSAGE, NUL_MESSAGE

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


def bad_request(request: HttpRequest, reason: str) -> HttpResponse:
    """The 400 page, with the reason in words."""
    return HttpResponse(
        render_to_string("400.html", {"reason": reason}, request=request), status=400
    )


def _nul_field(query) -> str | None:
    """The first query or form field whose name or value holds a NUL character."""
    for key, values in query.lists():
        if "\x00" in key or any("\x00" in v for v in values):
            return key.replace("\x00", "\ufffd")
    return None


class BadInputMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _nul_field(request.GET)
        if field is not None:
            if request.path.startswith(API_PREFIX):
                return JsonResponse({field: [NUL_MESSAGE]}, status=400)
            return bad_request(request, f"The query parameter “{field}”: {NUL_MESSAGE}")
        if (
            request.method == "POST"
            and not request.path.startswith(API_PREFIX)
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            field = _nul_field(request.POST)
            if field is not None:
                return bad_request(request, f"The form field “{field}”: {NUL_MESSAGE}")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith(API_PREFIX):
            return None  # the API's exception handler answers in JSON
        if isinstance(exception, OverflowError):
            logger.warning("date arithmetic overflowed on input: %s", exception)
            return bad_request(request, DATE_RANGE_MESSAGE)
        if isinstance(exception, DataError):
            logger.warning("the database refused a value: %s", exception)
            return bad_request(request, "A value is out of the range the database can store.")
        return None
