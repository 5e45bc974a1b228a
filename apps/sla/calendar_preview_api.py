"""The business-calendar preview by API: "a lead arriving at … is due at …".

The same computation as the calendar editor's live preview (``selectors.calendar_preview``,
which calls the pure ``business_time.add``), for a saved calendar (GET) or for a calendar
not saved yet (POST, checked as saving would check it). Everyone who may read calendars may
ask; nothing is written.

``arrival`` is ISO 8601: with a UTC offset (``+01:00`` or ``Z``) it is that instant; without
one it is a wall-clock time in the calendar's own timezone, as on the page. In a query string
an unencoded ``+`` arrives as a space; ``2026-03-07T10:00 01:00`` is read as ``+01:00``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.exceptions import DomainError
from apps.accounts.roles import ALL_ROLES
from apps.accounts.schema import JSON_ONLY, error_responses
from apps.sla import selectors, services
from apps.sla.business_time import BUSINESS, CALENDAR
from apps.sla.models import BusinessCalendar

READERS = api_roles(*ALL_ROLES, integration=True)
# Arrivals the preview answers for: any real business day, never the edges of datetime's range.
FIRST_ARRIVAL = date(2000, 1, 1)
LAST_ARRIVAL = date(2100, 12, 31)
MAX_HOURS = 2000.0
ARRIVAL_FORMAT = (
    "Expected ISO 8601, e.g. 2026-03-07T10:00+01:00 or 2026-03-07T10:00Z; without an offset "
    "the time is read in the calendar's timezone."
)
# "…T10:00 01:00": a "+01:00" whose "+" a query string turned into a space.
_SPACE_FOR_PLUS = re.compile(r"^(\S+T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


@extend_schema_field(
    {
        "type": "string",
        "example": "2026-03-07T10:00+01:00",
        "description": ARRIVAL_FORMAT,
    }
)
class ArrivalField(serializers.Field):
    """An ISO 8601 moment: aware with an offset, or a naive wall-clock time (calendar's zone)."""

    default_error_messages = {
        "invalid": ARRIVAL_FORMAT,
        "range": f"Choose a day between {FIRST_ARRIVAL} and {LAST_ARRIVAL}.",
    }

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        spaced = _SPACE_FOR_PLUS.match(text)
        if spaced:
            text = f"{spaced.group(1)}+{spaced.group(2)}"
        try:
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid")
        if not FIRST_ARRIVAL <= parsed.date() <= LAST_ARRIVAL:
            self.fail("range")
        return parsed

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class LocalDateTimeField(serializers.DateTimeField):
    """An aware datetime written in its own zone (the calendar's), not the server's."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class PreviewQuerySerializer(serializers.Serializer):
    arrival = ArrivalField(required=False, help_text="When the lead arrives; default: now")
    hours = serializers.FloatField(
        min_value=0.01, max_value=MAX_HOURS, default=4, help_text="The SLA's window, in hours"
    )
    clock = serializers.ChoiceField(
        choices=[BUSINESS, CALENDAR],
        default=BUSINESS,
        help_text="business: count working time only; calendar: elapsed time",
    )


class DraftPreviewInputSerializer(PreviewQuerySerializer):
    timezone = serializers.CharField(max_length=64, default="UTC")
    week = serializers.JSONField(
        required=False,
        help_text="7 days, Monday first, each a list of [start, end] wall-clock intervals, e.g. "
        '[[["09:00", "12:00"], ["13:00", "17:00"]], …, [], []]; default Mon–Fri 09:00–17:00',
    )
    holiday_country = serializers.CharField(required=False, allow_blank=True, default="")
    holiday_subdivision = serializers.CharField(required=False, allow_blank=True, default="")
    closed_dates = serializers.ListField(
        child=serializers.DateField(), required=False, default=list, max_length=1000
    )


class DayOffSerializer(serializers.Serializer):
    date = serializers.DateField()
    name = serializers.CharField()


class PreviewOutputSerializer(serializers.Serializer):
    calendar = serializers.IntegerField(allow_null=True, help_text="The saved calendar's id")
    timezone = serializers.CharField()
    clock = serializers.CharField()
    arrival = LocalDateTimeField(help_text="In the calendar's timezone")
    hours = serializers.FloatField()
    due_at = LocalDateTimeField(help_text="In the calendar's timezone")
    elapsed_hours = serializers.FloatField(help_text="Calendar hours from arrival to due")
    sentence = serializers.CharField()
    days_off = DayOffSerializer(many=True, help_text="Holidays and closed days ahead (≤ 12)")
    days_off_horizon_days = serializers.IntegerField()


def _preview(
    *, calendar_data: dict[str, Any], calendar_id: int | None, query: dict[str, Any]
) -> dict[str, Any]:
    arrival = query.get("arrival")
    if arrival is None:
        arrival = timezone.now()
    aware = timezone.is_aware(arrival)
    result = selectors.calendar_preview(
        calendar_data=calendar_data,
        arrival_wall_clock=None if aware else arrival,
        arrival_at=arrival if aware else None,
        hours=query["hours"],
        mode=query["clock"],
    )
    if "problem" in result:
        raise DomainError(result["problem"], field="calendar" if calendar_id else "closed_dates")
    kind = "business" if query["clock"] == BUSINESS else "elapsed"
    sentence = (
        f"A lead arriving at {result['arrival']:%a %d %b %Y, %H:%M} with {query['hours']:g} "
        f"{kind} hours is due at {result['due']:%a %d %b %Y, %H:%M} ({result['zone']})."
    )
    return {
        "calendar": calendar_id,
        "timezone": result["zone"],
        "clock": query["clock"],
        "arrival": result["arrival"],
        "hours": query["hours"],
        "due_at": result["due"],
        "elapsed_hours": round(result["elapsed"].total_seconds() / 3600, 4),
        "sentence": sentence,
        "days_off": [{"date": day, "name": name} for day, name in result["days_off"]],
        "days_off_horizon_days": result["preview_days"],
    }


class CalendarPreviewApi(APIView):
    """GET when a lead arriving at `arrival` is due after `hours` on a saved calendar."""

    allowed_roles = READERS

    @extend_schema(
        parameters=[PreviewQuerySerializer],
        responses={200: PreviewOutputSerializer, **error_responses(400, 404)},
    )
    def get(self, request, pk: int):
        calendar = get_object_or_404(BusinessCalendar, pk=pk)
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = {
            "timezone": calendar.timezone,
            "week": calendar.week,
            "holiday_country": calendar.holiday_country,
            "holiday_subdivision": calendar.holiday_subdivision,
            "closed_dates": calendar.closed_dates,
        }
        return Response(
            PreviewOutputSerializer(
                _preview(calendar_data=data, calendar_id=calendar.pk, query=query.validated_data)
            ).data
        )


class CalendarDraftPreviewApi(APIView):
    """POST a calendar that is not saved yet (checked as saving would check it) with an
    arrival: when is such a lead due? Nothing is stored."""

    allowed_roles = READERS
    parser_classes = JSON_ONLY

    @extend_schema(
        request=DraftPreviewInputSerializer,
        responses={200: PreviewOutputSerializer, **error_responses(400, 415)},
    )
    def post(self, request):
        body = DraftPreviewInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        data = services.calendar_data_clean(
            timezone_name=v["timezone"],
            week=v.get("week"),
            holiday_country=v["holiday_country"],
            holiday_subdivision=v["holiday_subdivision"],
            closed_dates=v["closed_dates"],
        )
        return Response(
            PreviewOutputSerializer(_preview(calendar_data=data, calendar_id=None, query=v)).data
        )
