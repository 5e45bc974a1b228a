"""Leads API: bulk upsert and activity ingestion, the lead list and detail, routing by hand, webhooks.

Bulk endpoints take a JSON list (or {"items": [...]}) of at most API_BULK_MAX_ITEMS
items and answer with a per-item report: 200 when every item was accepted, 207 when
some were rejected, 400 when all were; 413 beyond the item limit; 400 for a body
that is not JSON. Rejected items are listed by index with their field errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.api_fields import FilterDateField, FilterDateTimeField
from apps.accounts.input_bounds import JsonDocumentError, json_document_parse
from apps.accounts.models import User
from apps.accounts.roles import ALL_ROLES, Capability, roles_for
from apps.handoff import channels
from apps.leads import selectors, services
from apps.leads.models import Stage
from apps.leads.webhook_signatures import TOLERANCE_SECONDS, signature_problem

INGEST_ROLES = tuple(roles_for(Capability.IMPORT_LEADS))
ROUTING_ROLES = tuple(roles_for(Capability.ROUTE_LEADS))


class OwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()


class LeadOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    email = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    title = serializers.CharField()
    seniority = serializers.CharField()
    company = serializers.CharField()
    company_domain = serializers.CharField()
    company_size = serializers.IntegerField(allow_null=True)
    annual_revenue = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    industry = serializers.CharField()
    country = serializers.CharField()
    region = serializers.CharField()
    source = serializers.CharField()
    campaign = serializers.CharField()
    owner = OwnerSerializer(allow_null=True)
    assigned_at = serializers.DateTimeField(allow_null=True)
    stage = serializers.CharField()
    stage_changed_at = serializers.DateTimeField()
    mql_at = serializers.DateTimeField(allow_null=True)
    sql_at = serializers.DateTimeField(allow_null=True)
    opportunity_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    expected_close = serializers.DateField(allow_null=True)
    properties = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TimelineEntrySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["activity", "stage_change", "assignment", "created"])
    at = serializers.DateTimeField()
    title = serializers.CharField()
    detail = serializers.CharField()
    actor = serializers.CharField()
    family = serializers.CharField()
    external_id = serializers.CharField()
    properties = serializers.JSONField()


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = serializers.ListField(
        child=inline_serializer(
            "BulkItemError",
            {"index": serializers.IntegerField(), "errors": serializers.DictField()},
        )
    )
    lead_ids = serializers.ListField(child=serializers.IntegerField())


def bulk_items(data) -> list:
    """The items of a bulk body: a list, {"items": [...]}, or one object; 400/413 otherwise."""
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    elif isinstance(data, list):
        items = data
    elif isinstance(data, dict) and data:
        items = [data]
    else:
        raise serializers.ValidationError(
            {"items": ['Send a JSON list of items (or {"items": [...]}).']}
        )
    if not items:
        raise serializers.ValidationError({"items": ["Send at least one item."]})
    return items


def too_many(items: list) -> Response | None:
    limit = settings.API_BULK_MAX_ITEMS
    if len(items) > limit:
        return Response(
            {"items": [f"At most {limit} items per request; got {len(items)}. Split the batch."]},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return None


def bulk_response(result: services.BulkResult) -> Response:
    accepted = result.created + result.updated + result.unchanged
    if not result.rejected:
        code = status.HTTP_200_OK
    elif accepted:
        code = status.HTTP_207_MULTI_STATUS
    else:
        code = status.HTTP_400_BAD_REQUEST
    return Response(BulkResultSerializer(result.as_dict()).data, status=code)


LEAD_ITEM_EXAMPLE = {
    "external_id": "0031x00000AbCdE",
    "email": "ana@example.com",
    "first_name": "Ana",
    "last_name": "Silva",
    "title": "VP Marketing",
    "company": "Example GmbH",
    "company_size": 850,
    "industry": "Software",
    "country": "DE",
    "source": "webinar",
    "campaign": "Q3 webinar series",
    "stage": "opportunity",
    "amount": "42000.00",
    "expected_close": "2025-09-30",
    "stage_changed_at": "2025-07-01T10:00:00+02:00",
    "properties": {"utm_medium": "email"},
}


class LeadUpsertApi(APIView):
    """POST creates or updates leads by external_id (partial updates; stage moves for opportunities)."""

    allowed_roles = api_roles(*INGEST_ROLES, integration=True)
    per_item_text_check = True  # one item with a NUL is rejected by index, not the batch

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: BulkResultSerializer, 207: BulkResultSerializer},
        description=(
            'A list of lead items (or {"items": [...]}), at most 1000. Keys: '
            + ", ".join(sorted(LEAD_ITEM_EXAMPLE))
            + ", owner (user email), created_at, changed_at. Only the keys sent are written; "
            "`stage` cannot be `mql` (decided by the MQL definition). Example item: "
            + json.dumps(LEAD_ITEM_EXAMPLE)
        ),
    )
    def post(self, request):
        items = bulk_items(request.data)
        return too_many(items) or bulk_response(
            channels.leads_upsert(items=items, channel="api", actor=request.user)
        )


class ActivityIngestApi(APIView):
    """POST appends activities; re-sending a stored external_id changes nothing."""

    allowed_roles = api_roles(*INGEST_ROLES, integration=True)
    per_item_text_check = True  # one item with a NUL is rejected by index, not the batch

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: BulkResultSerializer, 207: BulkResultSerializer},
        description=(
            'A list of activities (or {"items": [...]}), at most 1000: external_id, lead (the lead\'s '
            "external_id), kind, occurred_at (ISO 8601 with offset), properties, actor (user email, sales "
            "touches only), note. Kinds: engagement page_view, form_submit, content_download, "
            "webinar_registered, webinar_attended, email_open, email_click, product_event; sales touches "
            "call, email, meeting, sms, social (`email_sent` is accepted for `email` and is the name "
            "stored and returned). An activity for an unknown lead is rejected (it does not create the "
            "lead): upsert the lead and resend."
        ),
    )
    def post(self, request):
        items = bulk_items(request.data)
        return too_many(items) or bulk_response(
            channels.activities_ingest(items=items, channel="api", actor=request.user)
        )


class LeadCursorPagination(CursorPagination):
    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class LeadListApi(APIView):
    """GET lists the leads the caller may see (a rep: their own), filtered, cursor-paginated."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = LeadCursorPagination

    allowed_roles = api_roles(*ALL_ROLES, integration=True)

    class LeadFilterSerializer(serializers.Serializer):
        stage = serializers.MultipleChoiceField(choices=Stage.choices, required=False)
        owner = serializers.CharField(
            required=False, help_text="A user id, or 'none' for unassigned"
        )
        source = serializers.CharField(required=False)
        campaign = serializers.CharField(required=False)
        created_from = FilterDateField(required=False)
        created_to = FilterDateField(required=False)
        mql_from = FilterDateField(required=False)
        mql_to = FilterDateField(required=False)
        q = serializers.CharField(required=False, help_text="Search name, email, company, id")
        external_id = serializers.CharField(required=False)
        updated_since = FilterDateTimeField(required=False)

        def validate_owner(self, value: str) -> str:
            if value != selectors.UNASSIGNED and not value.isdigit():
                raise serializers.ValidationError("A user id, or 'none'.")
            return value

    @extend_schema(
        parameters=[
            LeadFilterSerializer,
            OpenApiParameter("cursor", str, description="From the previous page's next link"),
            OpenApiParameter("page_size", int, description="1–500, default 50"),
        ],
        responses=LeadOutputSerializer(many=True),
    )
    def get(self, request):
        params = self.LeadFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        filters = selectors.LeadFilters(
            stages=tuple(sorted(v.get("stage") or ())),
            owner=v.get("owner"),
            source=v.get("source"),
            campaign=v.get("campaign"),
            created_from=v.get("created_from"),
            created_to=v.get("created_to"),
            mql_from=v.get("mql_from"),
            mql_to=v.get("mql_to"),
            q=v.get("q"),
            external_id=v.get("external_id"),
            updated_since=v.get("updated_since"),
        )
        leads = selectors.lead_list(user=request.user, filters=filters).order_by()
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(leads, request, view=self)
        return paginator.get_paginated_response(LeadOutputSerializer(page, many=True).data)


def visible_lead(request, pk: int):
    return get_object_or_404(selectors.lead_visible_list(user=request.user), pk=pk)


class LeadDetailOutputSerializer(LeadOutputSerializer):
    timeline = TimelineEntrySerializer(many=True)


class LeadDetailApi(APIView):
    """GET one lead with its timeline (activities, stage changes, assignments), newest first."""

    allowed_roles = api_roles(*ALL_ROLES, integration=True)

    @extend_schema(responses=LeadDetailOutputSerializer)
    def get(self, request, pk: int):
        lead = visible_lead(request, pk)
        data = LeadOutputSerializer(lead).data
        data["timeline"] = TimelineEntrySerializer(
            selectors.lead_timeline(lead=lead), many=True
        ).data
        return Response(data)


class AssignmentOutputSerializer(serializers.Serializer):
    lead = serializers.IntegerField(source="lead_id")
    owner = OwnerSerializer(allow_null=True)
    assigned_at = serializers.DateTimeField()
    rule = serializers.CharField(source="rule.name", allow_null=True, default=None)
    reason = serializers.CharField()


class LeadReassignInputSerializer(serializers.Serializer):
    owner = serializers.EmailField(help_text="The new owner's email")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class LeadReassignApi(APIView):
    """POST gives a lead to another person (sales leader, admin)."""

    allowed_roles = api_roles(*ROUTING_ROLES)

    @extend_schema(request=LeadReassignInputSerializer, responses=AssignmentOutputSerializer)
    def post(self, request, pk: int):
        lead = visible_lead(request, pk)
        data = LeadReassignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        owner = User.objects.filter(email__iexact=data.validated_data["owner"]).first()
        if owner is None:
            raise serializers.ValidationError({"owner": ["No user with this email."]})
        assignment = channels.lead_reassign(
            lead=lead, owner=owner, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(AssignmentOutputSerializer(assignment).data)


class LeadRouteApi(APIView):
    """POST runs the routing rules on one lead now (sales leader, admin)."""

    allowed_roles = api_roles(*ROUTING_ROLES)

    @extend_schema(request=None, responses=AssignmentOutputSerializer)
    def post(self, request, pk: int):
        assignment = channels.lead_route_now(lead=visible_lead(request, pk), actor=request.user)
        return Response(AssignmentOutputSerializer(assignment).data)


class WebhookResultSerializer(BulkResultSerializer):
    ignored = serializers.IntegerField(help_text="Events or records that are not leads")
    unmapped_fields = serializers.ListField(child=serializers.CharField())


class _WebhookApi(APIView):
    # The caller is a CRM, not a user: it proves itself with the URL token or the
    # signature checked below, so no session, key or role applies.
    authentication_classes: list = []
    permission_classes: list = []

    def receive(self, request, source: str):
        try:
            payload = json_document_parse(request.body or b"null")
        except JsonDocumentError as exc:
            return Response({"body": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        outcome = channels.webhook_receive(source=source, payload=payload)
        data = outcome.result.as_dict()
        data.update(ignored=outcome.ignored, unmapped_fields=outcome.unmapped)
        code = bulk_response(outcome.result).status_code
        return Response(WebhookResultSerializer(data).data, status=code)

    def endpoint(self):
        endpoint = services.webhook_endpoint_get()
        if not endpoint.is_active:
            raise Http404("Webhooks are switched off for this organization.")
        return endpoint


class WebhookReceiveApi(_WebhookApi):
    """POST a HubSpot- or Salesforce-style payload, signed with the organization's HMAC secret."""

    @extend_schema(
        operation_id="webhook_receive_signed",
        request=OpenApiTypes.OBJECT,
        responses=WebhookResultSerializer,
        parameters=[
            OpenApiParameter("X-Handoff-Timestamp", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "X-Handoff-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="sha256=<hex HMAC-SHA256 of '<timestamp>.<raw body>' with the signing secret>",
            ),
            OpenApiParameter(
                "X-Handoff-Delivery",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Optional unique id of this delivery; a repeat inside the 5-minute "
                "window (same id, or same signature without one) is answered 409",
            ),
        ],
    )
    def post(self, request, source: str):
        endpoint = self.endpoint()
        problem = signature_problem(
            secret=endpoint.signing_secret,
            signature=request.headers.get("X-Handoff-Signature"),
            timestamp=request.headers.get("X-Handoff-Timestamp"),
            body=request.body,
            now=time.time(),
        )
        if problem:
            return Response({"signature": [problem]}, status=status.HTTP_401_UNAUTHORIZED)
        # A captured request replayed inside the 5-minute window is refused: each signature
        # (or X-Handoff-Delivery id) is remembered in the shared cache for the window.
        seen = webhook_delivery_key(request)
        if not cache.add(seen, 1, timeout=TOLERANCE_SECONDS + 60):
            return Response(
                {"signature": ["This delivery was already received (a replay); it is ignored."]},
                status=status.HTTP_409_CONFLICT,
            )
        try:
            return self.receive(request, source)
        except Exception:
            cache.delete(seen)  # not processed: the sender may retry the same delivery
            raise


def webhook_delivery_key(request) -> str:
    """The replay-memory key of a signed webhook call: its delivery id, else its signature."""
    delivery = request.headers.get("X-Handoff-Delivery") or request.headers.get(
        "X-Handoff-Signature", ""
    )
    digest = hashlib.sha256(delivery.strip().encode()).hexdigest()
    return f"webhook-delivery:{connection.schema_name}:{digest}"


class WebhookReceiveByTokenApi(_WebhookApi):
    """POST a HubSpot- or Salesforce-style payload to the organization's secret URL."""

    @extend_schema(
        operation_id="webhook_receive_by_token",
        request=OpenApiTypes.OBJECT,
        responses=WebhookResultSerializer,
    )
    def post(self, request, source: str, token: str):
        endpoint = self.endpoint()
        if not hmac.compare_digest(token.encode(), endpoint.url_token.encode()):
            raise Http404("Unknown webhook URL.")
        return self.receive(request, source)
