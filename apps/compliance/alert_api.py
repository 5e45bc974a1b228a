"""Alerts, notifications and escalations by API.

- ``GET alerts/``: the organization's alert outbox (due-soon warnings, breaches, commitments
  turning red, escalations), each with who it went to over which channel and who read it.
  Leaders, executives, admins and organization API keys.
- ``GET notifications/``, ``POST notifications/<id>/read/``, ``POST notifications/read-all/``:
  the caller's own in-app notifications (the bell), for every person.
- ``GET compliance/<commitment>/escalations/``: the escalation history of a commitment,
  episodes sent and those found in back-filled history (recorded, nobody notified).

Filters (all optional): ``kind``; ``commitment``; ``lead``; ``period`` with ``start`` (a
commitment alert of that review period, or a clock alert whose clock fell due in it);
``created_from`` / ``created_to``; on alerts ``person`` (a user id or email: alerts addressed
to them) and ``found_in_backfill``; ``read`` (true/false) for the caller's notifications, or
with ``person`` for theirs.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.exceptions import DomainError
from apps.accounts.models import User
from apps.accounts.roles import ALL_ROLES, Role
from apps.accounts.schema import error_responses
from apps.compliance import alert_selectors, selectors, services
from apps.compliance.alert_text import alert_message
from apps.compliance.models import Alert, AlertKind, DeliveryStatus, Notification
from apps.compliance.outbox import alert_path
from apps.compliance.periods import PeriodKind
from apps.sla.models import Commitment

ALERT_READERS = api_roles(
    Role.ADMIN, Role.EXECUTIVE, Role.MARKETING_LEADER, Role.SALES_LEADER, integration=True
)
PEOPLE = api_roles(*ALL_ROLES)
# Reps read their own compliance only; the organization's escalations are not theirs.
ESCALATION_READERS = api_roles(*(ALL_ROLES - {Role.REP}), integration=True)


# --- filters ----------------------------------------------------------------------------


class AlertFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AlertKind.choices, required=False)
    commitment = serializers.IntegerField(required=False, min_value=1)
    lead = serializers.IntegerField(required=False, min_value=1, help_text="A lead's id")
    period = serializers.ChoiceField(
        choices=[k.value for k in PeriodKind], required=False, help_text="Needs `start`"
    )
    start = serializers.DateField(
        required=False, help_text="First day of the period (Monday, 1st, quarter start)"
    )
    created_from = serializers.DateTimeField(required=False, help_text="ISO 8601, inclusive")
    created_to = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive")
    read = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="true: read; false: unread"
    )

    def validate(self, data):
        if ("period" in data) != ("start" in data):
            missing = "start" if "period" in data else "period"
            raise serializers.ValidationError(
                {missing: ["Give `period` and `start` together, e.g. period=week&start=…"]}
            )
        if "period" in data:
            try:
                data["period_obj"] = selectors.period_from(data["period"], data["start"])
            except (ValueError, OverflowError) as error:
                raise serializers.ValidationError({"start": [str(error)]}) from error
        return data

    def to_filters(self) -> alert_selectors.AlertFilters:
        v = self.validated_data
        return alert_selectors.AlertFilters(
            kind=v.get("kind"),
            commitment_id=v.get("commitment"),
            lead_id=v.get("lead"),
            period=v.get("period_obj"),
            found_in_backfill=v.get("found_in_backfill"),
            created_from=v.get("created_from"),
            created_until=v.get("created_to"),
        )


class OrganizationAlertFilterSerializer(AlertFilterSerializer):
    person = serializers.CharField(
        required=False, max_length=254, help_text="A user id or email: alerts addressed to them"
    )
    found_in_backfill = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only escalation episodes found in back-filled history (nobody was "
        "notified); false: only alerts that were sent",
    )
    read = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="With `person` (default: you): alerts whose in-app notification they have "
        "(true) or have not (false) read",
    )


class EscalationFilterSerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="Periods starting on or after")
    found_in_backfill = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only episodes found in back-filled history; false: only those sent",
    )


def _person(value: str) -> User:
    text = value.strip()
    user = (
        User.objects.filter(pk=int(text)).first()
        if text.isdigit()
        else User.objects.filter(email__iexact=text).first()
    )
    if user is None:
        raise DomainError(f"No user “{value}” in this organization.", field="person")
    return user


def _paginated(request, view, queryset, serializer_class):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(
        serializer_class(page, many=True, context={"request": request}).data
    )


# --- output -------------------------------------------------------------------------------


class PeriodRefSerializer(serializers.Serializer):
    kind = serializers.CharField()
    start = serializers.DateField()
    label = serializers.CharField(allow_blank=True)


class CommitmentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.SerializerMethodField()
    metric = serializers.CharField()
    owner_team = serializers.CharField()
    sla_version_id = serializers.IntegerField(source="version_id")

    def get_label(self, commitment: Commitment) -> str:
        return commitment.label or commitment.get_metric_display()


class LeadRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()


class ClockRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    due_at = serializers.DateTimeField()
    state = serializers.CharField()


class EscalationRuleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    threshold = serializers.FloatField()
    periods = serializers.IntegerField()
    period_kind = serializers.CharField()
    notify_role = serializers.CharField()


class DeliverySerializer(serializers.Serializer):
    channel = serializers.CharField()
    recipient = serializers.EmailField(source="recipient.email", allow_null=True, default=None)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    delivered_at = serializers.DateTimeField(allow_null=True)


class ReadStateSerializer(serializers.Serializer):
    recipient = serializers.EmailField(source="recipient.email")
    read_at = serializers.DateTimeField(allow_null=True)


# The schema of the `period` method fields: {kind, start, label} or null.
period_schema = extend_schema_field(PeriodRefSerializer(allow_null=True))


def _period(alert: Alert) -> dict | None:
    if not alert.period_start:
        return None
    return {
        "kind": alert.period_kind,
        "start": alert.period_start,
        "label": (alert.payload or {}).get("period_label", ""),
    }


class _AlertTextMixin(serializers.Serializer):
    title = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(help_text="Where the alert leads in the app")

    def _alert(self, obj) -> Alert:
        return obj.alert if isinstance(obj, Notification) else obj

    def get_title(self, obj) -> str:
        alert = self._alert(obj)
        return alert_message(alert.kind, alert.payload or {}).title

    def get_body(self, obj) -> str:
        alert = self._alert(obj)
        return alert_message(alert.kind, alert.payload or {}).body

    def get_url(self, obj) -> str:
        return self.context["request"].build_absolute_uri(alert_path(self._alert(obj)))


class AlertOutputSerializer(_AlertTextMixin):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    created_at = serializers.DateTimeField()
    found_in_backfill = serializers.BooleanField(
        help_text="An escalation episode found in back-filled history: recorded, nobody notified"
    )
    lead = LeadRefSerializer(allow_null=True)
    clock = ClockRefSerializer(allow_null=True)
    commitment = CommitmentRefSerializer(allow_null=True)
    escalation_rule = EscalationRuleRefSerializer(allow_null=True)
    period = serializers.SerializerMethodField()
    payload = serializers.JSONField(help_text="What the message says, captured when raised")
    deliveries = DeliverySerializer(many=True, source="deliveries.all")
    read_by = ReadStateSerializer(many=True, source="notifications.all")

    @period_schema
    def get_period(self, alert: Alert) -> dict | None:
        return _period(alert)


class NotificationOutputSerializer(_AlertTextMixin):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    is_read = serializers.BooleanField()
    alert = serializers.IntegerField(source="alert_id")
    commitment = serializers.IntegerField(source="alert.commitment_id", allow_null=True)
    lead = serializers.IntegerField(source="alert.lead_id", allow_null=True)
    period = serializers.SerializerMethodField()

    @period_schema
    def get_period(self, notification: Notification) -> dict | None:
        return _period(notification.alert)


class EscalationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    commitment = CommitmentRefSerializer()
    escalation_rule = EscalationRuleRefSerializer(allow_null=True)
    period = serializers.SerializerMethodField(help_text="The closed period it fired in")
    value = serializers.SerializerMethodField(help_text="The value in that period")
    values = serializers.SerializerMethodField(help_text="The run of low values, oldest first")
    found_in_backfill = serializers.BooleanField(
        help_text="Found in back-filled history: recorded, nobody notified"
    )
    notified = DeliverySerializer(many=True, source="deliveries.all")
    recorded_at = serializers.DateTimeField(source="created_at")

    @period_schema
    def get_period(self, alert: Alert) -> dict | None:
        return _period(alert)

    def get_value(self, alert: Alert) -> float | None:
        return (alert.payload or {}).get("value")

    def get_values(self, alert: Alert) -> list[float | None]:
        return list((alert.payload or {}).get("values") or [])


# --- views ----------------------------------------------------------------------------------


class AlertListApi(APIView):
    """GET the organization's alerts, newest first (paginated), with deliveries and readers."""

    allowed_roles = ALERT_READERS
    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[OrganizationAlertFilterSerializer],
        responses={200: AlertOutputSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request):
        filters = OrganizationAlertFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        v = filters.validated_data
        person = _person(v["person"]) if v.get("person") else None
        if person is None and v.get("read") is not None:
            if getattr(request.user, "pk", None) is None:
                raise DomainError(
                    "An API key reads no notifications: say whose with `person`.", field="person"
                )
            person = request.user
        alerts = alert_selectors.alert_list(
            filters=filters.to_filters(),
            recipient_id=person.pk if person else None,
            read=v.get("read"),
        )
        return _paginated(request, self, alerts, AlertOutputSerializer)


class AlertDetailApi(APIView):
    """GET one alert with its deliveries and who read it."""

    allowed_roles = ALERT_READERS

    @extend_schema(
        responses={200: AlertOutputSerializer, **error_responses(404)},
    )
    def get(self, request, pk: int):
        alert = alert_selectors.alert_list().filter(pk=pk).first()
        if alert is None:
            raise Http404("No such alert.")
        return Response(AlertOutputSerializer(alert, context={"request": request}).data)


class NotificationListApi(APIView):
    """GET your in-app notifications, newest first (paginated); `read=false` for the unread."""

    allowed_roles = PEOPLE
    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[AlertFilterSerializer],
        responses={200: NotificationOutputSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request):
        filters = AlertFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        notifications = alert_selectors.notifications_for(
            user=request.user, filters=filters.to_filters(), read=filters.validated_data["read"]
        )
        return _paginated(request, self, notifications, NotificationOutputSerializer)


class NotificationReadApi(APIView):
    """POST marks one of your notifications read (idempotent; someone else's is a 404)."""

    allowed_roles = PEOPLE

    @extend_schema(
        request=None,
        responses={200: NotificationOutputSerializer, **error_responses(404)},
    )
    def post(self, request, pk: int):
        try:
            notification = services.notification_mark_read(user=request.user, notification_id=pk)
        except Notification.DoesNotExist as missing:
            raise Http404("No such notification.") from missing
        return Response(
            NotificationOutputSerializer(notification, context={"request": request}).data
        )


class NotificationReadAllOutputSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField(help_text="How many were unread")
    unread = serializers.IntegerField(help_text="Unread left (0)")


class NotificationReadAllApi(APIView):
    """POST marks all your notifications read."""

    allowed_roles = PEOPLE

    @extend_schema(
        request=None, responses={200: NotificationReadAllOutputSerializer, **error_responses()}
    )
    def post(self, request):
        count = services.notifications_mark_all_read(user=request.user)
        return Response(
            {
                "marked_read": count,
                "unread": selectors.notification_unread_count(user=request.user),
            }
        )


class CommitmentEscalationListApi(APIView):
    """GET a commitment's escalation history, newest period first (paginated): the episodes
    sent, and those found in back-filled history (``found_in_backfill``, nobody notified)."""

    allowed_roles = ESCALATION_READERS
    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[EscalationFilterSerializer],
        responses={200: EscalationOutputSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request, commitment_id: int):
        commitment = Commitment.objects.filter(pk=commitment_id).first()
        if commitment is None or not selectors.compliance_scope(request.user).admits(commitment):
            raise Http404("No such commitment.")
        filters = EscalationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        episodes = alert_selectors.escalation_history(
            commitment_ids=[commitment.pk], since=filters.validated_data.get("since")
        )
        backfilled = filters.validated_data.get("found_in_backfill")
        if backfilled is not None:
            episodes = episodes.filter(found_in_backfill=backfilled)
        return _paginated(request, self, episodes, EscalationOutputSerializer)
