"""API of the feedback loop: dispositions and sales touches (single and bulk, by the lead's
external_id; organization keys name the person with `actor`), a lead's disposition history and
the reason-code picklist (read by everyone; added, renamed, reordered, retired and restored by
sales leaders and admins through the same services as the settings page)."""

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

from apps.accounts.access import ReadWriteRoles, api_roles
from apps.accounts.api_fields import BoundedDateTimeField
from apps.accounts.exceptions import DomainError, NotAllowed
from apps.accounts.roles import ALL_ROLES, Capability, Role, roles_for
from apps.accounts.schema import JSON_ONLY, error_responses
from apps.dispositions import selectors, services
from apps.dispositions.models import (
    REASON_CODE_OUTCOME_CHOICES,
    Disposition,
    Outcome,
    ReasonCode,
)
from apps.handoff import channels
from apps.leads.models import SALES_TOUCH_KINDS, Activity, ActivityKind, Lead
from apps.leads.touch_kinds import DESIGN_TOUCH_KINDS

WORKERS = api_roles(*roles_for(Capability.WORK_LEADS), integration=True)
READERS = api_roles(*ALL_ROLES, integration=True)
REASON_CODE_EDITORS = api_roles(*services.REASON_CODE_EDITORS)
REASON_OUTCOME_CHOICES = REASON_CODE_OUTCOME_CHOICES
# DESIGN.md's names (call, email, meeting, sms, social) and the first ones (email_sent): the
# leads app's parser turns an alias into the stored name.
TOUCH_KIND_CHOICES = [
    *((kind, kind) for kind in DESIGN_TOUCH_KINDS),
    *(
        (k.value, k.label)
        for k in ActivityKind
        if k in SALES_TOUCH_KINDS and k not in DESIGN_TOUCH_KINDS
    ),
]


class AwareDateTimeField(BoundedDateTimeField):
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
    per_item_text_check = True  # items are validated one by one, rejected by index

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

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = READERS

    @extend_schema(responses=DispositionOutputSerializer(many=True))
    def get(self, request, external_id: str):
        lead = get_object_or_404(Lead, external_id=external_id)
        if getattr(request.user, "role", None) == Role.REP and lead.owner_id != request.user.pk:
            raise PermissionDenied("You can only read the dispositions of your own leads.")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.lead_disposition_history(lead=lead), request, view=self
        )
        return paginator.get_paginated_response(DispositionOutputSerializer(page, many=True).data)


# --- reason codes ----------------------------------------------------------------


class ReasonCodeDetailOutputSerializer(ReasonCodeOutputSerializer):
    uses = serializers.IntegerField(help_text="How many dispositions carry this code")


class ReasonCodeFilterSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=REASON_OUTCOME_CHOICES, required=False)
    active = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only the codes offered now; false: only retired ones",
    )


class ReasonCodeCreateInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=services.LABEL_MAX_LENGTH)
    outcome = serializers.ChoiceField(
        choices=REASON_OUTCOME_CHOICES,
        help_text="The outcome this reason explains; the same label may exist for both",
    )


class ReasonCodeRenameInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=services.LABEL_MAX_LENGTH)


class ReasonCodeReorderInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=REASON_OUTCOME_CHOICES)
    ordered_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=1000,
        help_text="Every live code of the outcome exactly once, in the new order",
    )


class ReasonCodeReorderOutputSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    reason_codes = ReasonCodeOutputSerializer(many=True)


def _reason_code(pk: int) -> ReasonCode:
    """A code with its use count (404 when the organization has none with that id)."""
    return get_object_or_404(selectors.reason_code_list(), pk=pk)


class ReasonCodeListApi(ReadWriteRoles, APIView):
    """GET the picklist (retired codes too, flagged: old dispositions carry them); POST adds a
    code at the end of its outcome's list (sales leaders and admins)."""

    read_roles = READERS
    write_roles = REASON_CODE_EDITORS
    parser_classes = JSON_ONLY
    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[ReasonCodeFilterSerializer],
        responses={
            200: ReasonCodeDetailOutputSerializer(many=True),
            **error_responses(400, 404),
        },
    )
    def get(self, request):
        filters = ReasonCodeFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        active = filters.validated_data.get("active")
        qs = selectors.reason_code_list(outcome=filters.validated_data.get("outcome"))
        if active is not None:
            qs = qs.filter(retired_at__isnull=active)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            ReasonCodeDetailOutputSerializer(page, many=True).data
        )

    @extend_schema(
        request=ReasonCodeCreateInputSerializer,
        responses={201: ReasonCodeDetailOutputSerializer, **error_responses(400, 415)},
    )
    def post(self, request):
        data = ReasonCodeCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = services.reason_code_create(actor=request.user, **data.validated_data)
        return Response(
            ReasonCodeDetailOutputSerializer(_reason_code(code.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class ReasonCodeDetailApi(ReadWriteRoles, APIView):
    """GET one code; PATCH renames it (old dispositions show the new name: same reason)."""

    read_roles = READERS
    write_roles = REASON_CODE_EDITORS
    parser_classes = JSON_ONLY

    @extend_schema(
        responses={200: ReasonCodeDetailOutputSerializer, **error_responses(404)},
    )
    def get(self, request, pk: int):
        return Response(ReasonCodeDetailOutputSerializer(_reason_code(pk)).data)

    @extend_schema(
        request=ReasonCodeRenameInputSerializer,
        responses={200: ReasonCodeDetailOutputSerializer, **error_responses(400, 404, 415)},
    )
    def patch(self, request, pk: int):
        code = _reason_code(pk)
        data = ReasonCodeRenameInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.reason_code_rename(
            reason_code=code, label=data.validated_data["label"], actor=request.user
        )
        return Response(ReasonCodeDetailOutputSerializer(_reason_code(pk)).data)


class ReasonCodeRetireApi(APIView):
    """POST stops offering a code; dispositions that carry it keep it (idempotent)."""

    allowed_roles = REASON_CODE_EDITORS

    @extend_schema(
        request=None,
        responses={200: ReasonCodeDetailOutputSerializer, **error_responses(404)},
    )
    def post(self, request, pk: int):
        services.reason_code_retire(reason_code=_reason_code(pk), actor=request.user)
        return Response(ReasonCodeDetailOutputSerializer(_reason_code(pk)).data)


class ReasonCodeRestoreApi(APIView):
    """POST offers a retired code again, at the end of its list (idempotent)."""

    allowed_roles = REASON_CODE_EDITORS

    @extend_schema(
        request=None,
        responses={200: ReasonCodeDetailOutputSerializer, **error_responses(400, 404)},
    )
    def post(self, request, pk: int):
        services.reason_code_restore(reason_code=_reason_code(pk), actor=request.user)
        return Response(ReasonCodeDetailOutputSerializer(_reason_code(pk)).data)


class ReasonCodeReorderApi(APIView):
    """POST sets the order of one outcome's live codes (the order the forms offer them in).

    409 when `ordered_ids` is not exactly the live codes of the outcome (a code was added or
    retired meanwhile): read the list again and retry.
    """

    allowed_roles = REASON_CODE_EDITORS
    parser_classes = JSON_ONLY

    @extend_schema(
        request=ReasonCodeReorderInputSerializer,
        responses={200: ReasonCodeReorderOutputSerializer, **error_responses(400, 409, 415)},
    )
    def post(self, request):
        data = ReasonCodeReorderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = data.validated_data["outcome"]
        ordered = services.reason_codes_reorder(
            outcome=outcome, ordered_ids=data.validated_data["ordered_ids"], actor=request.user
        )
        return Response(
            ReasonCodeReorderOutputSerializer({"outcome": outcome, "reason_codes": ordered}).data
        )


# --- touches -------------------------------------------------------------------


class TouchInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=128, help_text="Your id: sending it again changes nothing"
    )
    lead = serializers.CharField(max_length=128, help_text="The lead's external_id")
    kind = serializers.ChoiceField(
        choices=TOUCH_KIND_CHOICES,
        help_text="call, email, meeting, sms or social; email_sent is the same as email "
        "(the name the API used first, still accepted, and the one stored and returned)",
    )
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
    kind = serializers.CharField(help_text="The stored name: email_sent for an email")
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
    """Log one sales touch (call, email, meeting, sms, social; email_sent = email) on a lead."""

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
    per_item_text_check = True  # items are validated one by one, rejected by index

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
