"""API of the feedback loop: dispositions and sales touches (single and bulk, by the lead's
external_id; organization keys name the person with `actor`), a lead's disposition history and
the reason-code picklist."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.exceptions import DomainError, NotAllowed
from apps.accounts.roles import ALL_ROLES, Role
from apps.dispositions import selectors, services
from apps.dispositions.models import Disposition, Outcome
from apps.handoff import channels
from apps.leads.models import SALES_TOUCH_KINDS, Activity, ActivityKind, Lead

WORKERS = api_roles(Role.REP, Role.SALES_LEADER, integration=True)
READERS = api_roles(*ALL_ROLES, integration=True)
TOUCH_KIND_CHOICES = [(k.value, k.label) for k in ActivityKind if k in SALES_TOUCH_KINDS]


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset: a time without one would be read in the server's zone."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(
                    "Include the UTC offset (e.g. +00:00 or Z): a time without one is ambiguous."
                )
        return super().to_internal_value(value)


class ReasonCodeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    outcome = serializers.CharField()
    position = serializers.IntegerField()
    is_active = serializers.BooleanField()
    retired_at = serializers.DateTimeField(allow_null=True)


class DispositionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lead = serializers.CharField(source="lead.external_id")
    outcome = serializers.CharField()
    reason_code = ReasonCodeOutputSerializer(allow_null=True)
    note = serializers.CharField()
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    external_id = serializers.CharField(allow_null=True)
    channel = serializers.CharField()
    mql_event_id = serializers.IntegerField(allow_null=True)


class DispositionInputSerializer(serializers.Serializer):
    lead = serializers.CharField(max_length=128, help_text="The lead's external_id")
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    reason_code = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=120,
        help_text="Id or label of a reason code of that outcome; required for rejected and nurture",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    occurred_at = AwareDateTimeField(
        required=False, allow_null=True, help_text="May be in the past, not in the future"
    )
    external_id = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=128,
        help_text="Your id: sending it again changes nothing",
    )
    actor = serializers.EmailField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Email of the person who decided (organization API keys only)",
    )


def _item(data: dict) -> services.DispositionItem:
    return services.DispositionItem(
        lead=data["lead"],
        outcome=data["outcome"],
        reason_code=data.get("reason_code") or None,
        note=data.get("note") or "",
        occurred_at=data.get("occurred_at"),
        external_id=data.get("external_id") or None,
        actor_email=data.get("actor") or None,
    )


def _bulk_items(request) -> list:
    """The list of items of a bulk request ({"items": [...]} or a bare list); 400/413 otherwise."""
    items = request.data.get("items") if isinstance(request.data, dict) else request.data
    if not isinstance(items, list):
        raise DomainError('Send {"items": [...]}: a list of objects.', field="items")
    if len(items) > settings.API_BULK_MAX_ITEMS:
        raise _TooMany()
    return items


class _TooMany(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE

    def __init__(self) -> None:
        super().__init__(
            f"At most {settings.API_BULK_MAX_ITEMS} items per request; split the batch.",
            field="items",
        )


BULK_RESPONSE = inline_serializer(
    "BulkReport",
    {
        "created": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "results": serializers.ListField(child=serializers.DictField()),
    },
)


class DispositionCreateApi(APIView):
    """Record one disposition of a lead (by its external_id)."""

    allowed_roles = WORKERS

    @extend_schema(
        request=DispositionInputSerializer,
        responses={201: DispositionOutputSerializer, 200: DispositionOutputSerializer},
    )
    def post(self, request):
        data = DispositionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = _item(data.validated_data)
        lookup = selectors.bulk_lookup(
            lead_keys=[item.lead], actor_emails=[item.actor_email] if item.actor_email else []
        )
        known = bool(item.external_id) and (
            Disposition.objects.filter(external_id=item.external_id).exists()
        )
        disposition = channels.disposition_create(
            lead=lookup.lead(item.lead),
            outcome=item.outcome,
            reason_code=lookup.reason_code(item.reason_code, outcome=item.outcome),
            note=item.note,
            actor=lookup.actor(principal=request.user, email=item.actor_email),
            occurred_at=item.occurred_at,
            channel="api",
            external_id=item.external_id,
        )
        return Response(
            DispositionOutputSerializer(disposition).data,
            status=status.HTTP_200_OK if known else status.HTTP_201_CREATED,
        )


class DispositionBulkCreateApi(APIView):
    """Record up to 1,000 dispositions; each item is stored or reported by index on its own."""

    allowed_roles = WORKERS

    @extend_schema(
        request=inline_serializer(
            "DispositionBulkInput", {"items": DispositionInputSerializer(many=True)}
        ),
        responses={200: BULK_RESPONSE},
    )
    def post(self, request):
        raw_items = _bulk_items(request)
        results: dict[int, dict] = {}
        valid: list[tuple[int, services.DispositionItem]] = []
        for index, raw in enumerate(raw_items):
            data = DispositionInputSerializer(data=raw if isinstance(raw, dict) else {})
            if not isinstance(raw, dict):
                results[index] = _rejected(
                    index, {"non_field_errors": ["Each item must be an object."]}
                )
            elif not data.is_valid():
                results[index] = _rejected(index, data.errors)
            else:
                valid.append((index, _item(data.validated_data)))
        report = channels.dispositions_bulk_create(
            items=[item for _, item in valid], principal=request.user, channel="api"
        )
        for (index, _), result in zip(valid, report.results, strict=True):
            if result.status == "rejected":
                results[index] = _rejected(index, result.errors)
            else:
                results[index] = {
                    "index": index,
                    "status": result.status,
                    "id": result.disposition.pk,
                }
        ordered = [results[index] for index in sorted(results)]
        return Response(
            {
                "created": sum(1 for r in ordered if r["status"] == "created"),
                "unchanged": sum(1 for r in ordered if r["status"] == "unchanged"),
                "rejected": sum(1 for r in ordered if r["status"] == "rejected"),
                "results": ordered,
            }
        )


def _rejected(index: int, errors) -> dict:
    return {"index": index, "status": "rejected", "errors": dict(errors)}


class LeadDispositionListApi(APIView):
    """A lead's dispositions, newest first (a rep sees only their own leads')."""

    allowed_roles = READERS

    @extend_schema(responses=DispositionOutputSerializer(many=True))
    def get(self, request, external_id: str):
        lead = get_object_or_404(Lead, external_id=external_id)
        if getattr(request.user, "role", None) == Role.REP and lead.owner_id != request.user.pk:
            raise PermissionDenied("You can only read the dispositions of your own leads.")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.lead_disposition_history(lead=lead), request, view=self
        )
        return paginator.get_paginated_response(DispositionOutputSerializer(page, many=True).data)


class ReasonCodeListApi(APIView):
    """The reason-code picklist (retired codes too, flagged: old dispositions carry them)."""

    allowed_roles = READERS

    @extend_schema(responses=ReasonCodeOutputSerializer(many=True))
    def get(self, request):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.reason_code_list(), request, view=self)
        return paginator.get_paginated_response(ReasonCodeOutputSerializer(page, many=True).data)


# --- touches -------------------------------------------------------------------


class TouchInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=128, help_text="Your id: sending it again changes nothing"
    )
    lead = serializers.CharField(max_length=128, help_text="The lead's external_id")
    kind = serializers.ChoiceField(choices=TOUCH_KIND_CHOICES)
    occurred_at = AwareDateTimeField(help_text="ISO 8601 with offset; not in the future")
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    actor = serializers.EmailField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Email of the person who made the touch (required with an organization API key)",
    )


class TouchOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    lead = serializers.CharField(source="lead.external_id")
    kind = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    note = serializers.CharField()
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)


def _touch_batch(request, raw_items: list) -> dict:
    """Check each touch (shape, who may log it on which lead), hand the valid ones to the leads
    app's ingestion (the one write path for activities) and report every item by index."""
    principal = request.user
    errors: dict[int, dict] = {}
    forbidden: set[int] = set()
    checked: list[tuple[int, dict]] = []
    for index, raw in enumerate(raw_items):
        data = TouchInputSerializer(data=raw if isinstance(raw, dict) else {})
        if not isinstance(raw, dict):
            errors[index] = {"non_field_errors": ["Each item must be an object."]}
        elif not data.is_valid():
            errors[index] = dict(data.errors)
        else:
            checked.append((index, data.validated_data))
    lookup = selectors.bulk_lookup(
        lead_keys=[v["lead"] for _, v in checked],
        actor_emails=[v["actor"] for _, v in checked if v.get("actor")],
    )
    accepted: list[tuple[int, dict]] = []
    for index, v in checked:
        try:
            lead = lookup.lead(v["lead"])
            actor = lookup.actor(principal=principal, email=v.get("actor"))
            # People log touches on the leads they may work; integrations record what
            # the CRM saw, by the person it names.
            if getattr(principal, "pk", None) is not None:
                services.require_may_work_lead(lead=lead, actor=actor)
        except DomainError as exc:
            errors[index] = exc.as_dict()
            if isinstance(exc, NotAllowed):
                forbidden.add(index)
            continue
        accepted.append(
            (
                index,
                {
                    "external_id": v["external_id"],
                    "lead": lead.external_id,
                    "kind": v["kind"],
                    "occurred_at": v["occurred_at"].isoformat(),
                    "note": v.get("note") or "",
                    "actor": actor.email,
                },
            )
        )
    result = channels.activities_ingest(
        items=[item for _, item in accepted], channel="api", actor=principal
    )
    for error in result.errors:
        errors[accepted[error["index"]][0]] = error["errors"]
    return {
        "created": result.created,
        "unchanged": result.unchanged,
        "rejected": len(errors),
        "errors": [{"index": index, "errors": errors[index]} for index in sorted(errors)],
        "external_ids": [item["external_id"] for _, item in accepted],
        "forbidden": sorted(forbidden),
    }


class TouchCreateApi(APIView):
    """Log one sales touch (call, email_sent, meeting, sms, social) on a lead."""

    allowed_roles = WORKERS

    @extend_schema(
        request=TouchInputSerializer,
        responses={201: TouchOutputSerializer, 200: TouchOutputSerializer},
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise DomainError("Send one touch as a JSON object.")
        report = _touch_batch(request, [request.data])
        if report["errors"]:
            refused = (
                status.HTTP_403_FORBIDDEN if report["forbidden"] else status.HTTP_400_BAD_REQUEST
            )
            return Response(report["errors"][0]["errors"], status=refused)
        touch = Activity.objects.select_related("lead", "actor").get(
            external_id=report["external_ids"][0]
        )
        return Response(
            TouchOutputSerializer(touch).data,
            status=status.HTTP_201_CREATED if report["created"] else status.HTTP_200_OK,
        )


class TouchBulkCreateApi(APIView):
    """Log up to 1,000 sales touches; invalid ones are reported by index, the rest stored."""

    allowed_roles = WORKERS

    @extend_schema(
        request=inline_serializer("TouchBulkInput", {"items": TouchInputSerializer(many=True)}),
        responses={
            200: inline_serializer(
                "TouchBulkReport",
                {
                    "created": serializers.IntegerField(),
                    "unchanged": serializers.IntegerField(),
                    "rejected": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request):
        report = _touch_batch(request, _bulk_items(request))
        report.pop("external_ids")
        report.pop("forbidden")
        return Response(report)
