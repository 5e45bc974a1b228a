"""One place that turns errors into API responses: domain errors become 4xx naming the field.

Values the database refuses (a date out of its range, a number too large) and date
arithmetic that overflows are answered as 400 too: they come from input that slipped
past a field's own checks, and the client, not the server, has to change something.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DataError, connection, transaction
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.accounts.exceptions import DomainError
from apps.accounts.input_bounds import DATE_RANGE_MESSAGE

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "Request body too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, OverflowError):
        logger.warning("date arithmetic overflowed on input: %s", exc)
        return Response({"detail": DATE_RANGE_MESSAGE}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError):
        logger.warning("the database refused a value: %s", exc)
        # Inside an enclosing atomic block the failed statement broke the transaction:
        # have the block roll back rather than run further statements in it.
        if connection.in_atomic_block:
            transaction.set_rollback(True)
        return Response(
            {"detail": "A value is out of the range the database can store."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)
