"""Dashboard API: the scorecard, each chart's data and figure, and the drill-down leads, as JSON."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.api_fields import FilterDateField, FilterDateTimeField, QueryChoiceField
from apps.accounts.exceptions import DomainError
from apps.accounts.roles import ALL_ROLES, Role
from apps.dashboards import selectors, snapshots
from apps.dashboards.scope import PERIOD_CHOICES, TEAM_CHOICES, Scope, ScopeError, scope_from_params


class ScopeInputSerializer(serializers.Serializer):
    period = QueryChoiceField(choices=PERIOD_CHOICES, required=False)
    kind = QueryChoiceField(
        choices=["week", "month", "quarter"], required=False, help_text="custom period: its kind"
    )
    date = FilterDateField(required=False, help_text="custom period: a day inside it")
    team = QueryChoiceField(choices=TEAM_CHOICES, required=False)
    source = serializers.CharField(required=False, max_length=100)


def _scope(request, *, default_choice: str = "this_week") -> Scope:
    data = ScopeInputSerializer(data=request.query_params)
    data.is_valid(raise_exception=True)
    params = {k: str(v) for k, v in data.validated_data.items()}
    try:
        return scope_from_params(
            params,
            now=timezone.now(),
            tz=selectors.organization_timezone(),
            owner_id=request.user.pk if request.user.role == Role.REP else None,
            default_choice=default_choice,
        )
    except ScopeError as exc:
        raise DomainError(exc.message, field=exc.field) from exc


class PeriodOutputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class TileOutputSerializer(serializers.Serializer):
    commitment_id = serializers.IntegerField()
    team = serializers.CharField()
    title = serializers.CharField()
    metric = serializers.CharField()
    status = serializers.ChoiceField(choices=["green", "yellow", "red", "grey"])
    status_label = serializers.CharField()
    value = serializers.FloatField(source="value_number", allow_null=True)
    value_text = serializers.CharField(source="value")
    target = serializers.CharField()
    counts = serializers.CharField()
    numerator = serializers.FloatField()
    denominator = serializers.FloatField()
    pending = serializers.IntegerField()
    links = serializers.DictField(child=serializers.CharField())
    trend = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField()
    period_label = serializers.CharField(
        help_text="The commitment's own review period, when it is not the one picked"
    )
    kind = serializers.CharField(help_text="The commitment kind: <owner team>.<metric>")
    versions = serializers.CharField(
        help_text="The SLA version(s) the figure was measured under, e.g. 'SLA v1 + v2'"
    )


class TeamGroupOutputSerializer(serializers.Serializer):
    team = serializers.CharField()
    label = serializers.CharField()
    tiles = TileOutputSerializer(many=True)


class ScorecardOutputSerializer(serializers.Serializer):
    period = PeriodOutputSerializer(source="scope.period")
    as_of = serializers.DateTimeField(source="scope.as_of")
    groups = TeamGroupOutputSerializer(many=True)


class ScorecardGetApi(APIView):
    """The scorecard: one tile per commitment kind in force (never one per SLA version), grouped
    by team (reps: own leads only)."""

    allowed_roles = api_roles(*ALL_ROLES)

    @extend_schema(parameters=[ScopeInputSerializer], responses=ScorecardOutputSerializer)
    def get(self, request):
        scope = _scope(request)
        card = selectors.scorecard(scope=scope, viewer=request.user)
        return Response(ScorecardOutputSerializer(card).data)


def _plain(value):
    """Chart points (dataclasses with Decimals and properties) as JSON-ready dicts."""
    if dataclasses.is_dataclass(value):
        data = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("value", "ratio", "win_rate"):
            if isinstance(getattr(type(value), name, None), property):
                data[name] = _plain(getattr(value, name))
        return data
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class ChartOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    note = serializers.CharField()
    period = PeriodOutputSerializer()
    points = serializers.ListField(child=serializers.DictField())
    has_data = serializers.BooleanField(
        help_text="False when there is nothing to draw (only zeros): show an empty state"
    )
    figure = serializers.DictField(help_text="A plotly figure (data + layout), as fig.to_json()")
    as_of = serializers.DateTimeField(
        help_text="The moment the numbers describe: charts are stored and refreshed every few "
        "minutes while their period is open, frozen once it has closed"
    )


class ChartGetApi(APIView):
    """One chart's data points (each with its drill-down link) and its plotly figure."""

    allowed_roles = api_roles(*ALL_ROLES)

    class OptionsSerializer(ScopeInputSerializer):
        commitment = serializers.IntegerField(required=False, help_text="compliance-trend only")
        trend_kind = serializers.ChoiceField(
            choices=["week", "month"], required=False, help_text="mql-volume, mql-to-sql-weekly"
        )

    @extend_schema(parameters=[OptionsSerializer], responses=ChartOutputSerializer)
    def get(self, request, chart: str):
        options = self.OptionsSerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        scope = _scope(request, default_choice="this_quarter")
        extra = {}
        if "commitment" in options.validated_data:
            extra["commitment"] = options.validated_data["commitment"]
        if "trend_kind" in options.validated_data:
            extra["kind"] = options.validated_data["trend_kind"]
        stored = snapshots.chart_read(chart, scope=scope, role=request.user.role, options=extra)
        data = stored.data
        return Response(
            ChartOutputSerializer(
                {
                    "name": chart,
                    "title": data.title,
                    "note": data.note,
                    "period": scope.period,
                    "points": [_plain(point) for point in data.points],
                    "has_data": data.has_data,
                    "figure": json.loads(data.figure.to_json()),
                    "as_of": stored.as_of,
                }
            ).data
        )


class DrilldownLeadOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    name = serializers.CharField(source="full_name")
    email = serializers.CharField()
    company = serializers.CharField()
    source = serializers.CharField()
    campaign = serializers.CharField()
    owner_id = serializers.IntegerField(allow_null=True)
    stage = serializers.CharField()
    mql_at = serializers.DateTimeField(allow_null=True)
    sql_at = serializers.DateTimeField(allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class DrilldownListApi(APIView):
    """The leads behind a number: the query string of a tile's or chart point's `link`."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = api_roles(*ALL_ROLES)

    class FilterSerializer(serializers.Serializer):
        period = serializers.CharField(help_text="week:2026-11-16, month:2026-11-01, quarter:…")
        at = FilterDateTimeField(required=False, help_text="as of (default: now)")
        commitment = serializers.IntegerField(required=False)
        outcome = serializers.ChoiceField(
            choices=["met", "missed", "pending", "all"], required=False
        )
        basis = serializers.ChoiceField(
            choices=["mql", "created", "closed", "pipeline", "rejected"], required=False
        )
        source = serializers.CharField(required=False)
        campaign = serializers.CharField(required=False)
        owner = serializers.IntegerField(required=False)
        reached = serializers.CharField(required=False)
        response = serializers.CharField(required=False)
        hours = serializers.CharField(required=False)
        reason = serializers.IntegerField(required=False)

    @extend_schema(
        parameters=[FilterSerializer], responses=DrilldownLeadOutputSerializer(many=True)
    )
    def get(self, request):
        self.FilterSerializer(data=request.query_params).is_valid(raise_exception=True)
        try:
            _slice, _found, leads = selectors.drilldown(
                request.query_params,
                owner_id=request.user.pk if request.user.role == Role.REP else None,
                tz=selectors.organization_timezone(),
                now=timezone.now(),
            )
        except ScopeError as exc:
            raise DomainError(exc.message, field=exc.field) from exc
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(leads, request, view=self)
        return paginator.get_paginated_response(DrilldownLeadOutputSerializer(page, many=True).data)
