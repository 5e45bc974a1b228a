"""MQL/PQL definitions API: read versions, create and edit drafts, publish, evaluate a lead."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.roles import ALL_ROLES
from apps.icp.selectors import fit_for_leads
from apps.leads.selectors import lead_visible_list
from apps.mql import selectors, services
from apps.mql.models import DefinitionKind, DefinitionStatus, MqlDefinition
from apps.mql.rules import definition_warnings


class DefinitionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    # Plain strings rather than choice fields: several apps have a "kind" and a "status",
    # and one OpenAPI enum per field name keeps the schema free of name collisions.
    kind = serializers.CharField(help_text="mql or pql")
    version = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="draft, published or retired")
    rules = serializers.JSONField()
    notes = serializers.CharField()
    warnings = serializers.SerializerMethodField()
    created_by = serializers.EmailField(source="created_by.email", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    published_by = serializers.EmailField(
        source="published_by.email", allow_null=True, default=None
    )
    published_at = serializers.DateTimeField(allow_null=True)

    def get_warnings(self, definition: MqlDefinition) -> list[str]:
        parsed = selectors.definition_parsed(definition)
        return definition_warnings(parsed) if parsed is not None else []


class DefinitionListApi(APIView):
    """GET lists every version (filter by kind/status); POST creates a draft (marketing roles)."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = api_roles(*ALL_ROLES, integration=True)

    class DefinitionFilterSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=DefinitionKind.choices, required=False)
        status = serializers.ChoiceField(choices=DefinitionStatus.choices, required=False)

    @extend_schema(
        parameters=[DefinitionFilterSerializer], responses=DefinitionOutputSerializer(many=True)
    )
    def get(self, request):
        filters = self.DefinitionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.definition_list(kind=filters.validated_data.get("kind"))
        if filters.validated_data.get("status"):
            qs = qs.filter(status=filters.validated_data["status"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(DefinitionOutputSerializer(page, many=True).data)

    class DefinitionCreateInputSerializer(serializers.Serializer):
        kind = serializers.CharField(default=DefinitionKind.MQL, help_text="mql or pql")
        name = serializers.CharField(max_length=200)
        rules = serializers.DictField(required=False, help_text="See apps/mql/rules.py")
        notes = serializers.CharField(required=False, allow_blank=True, default="")
        based_on = serializers.IntegerField(
            required=False, help_text="Copy the rules of this version when `rules` is not given"
        )

    @extend_schema(
        request=DefinitionCreateInputSerializer, responses={201: DefinitionOutputSerializer}
    )
    def post(self, request):
        data = self.DefinitionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        based_on = None
        if v.get("based_on") is not None:
            based_on = MqlDefinition.objects.filter(pk=v["based_on"]).first()
            if based_on is None:
                raise serializers.ValidationError({"based_on": ["No such definition."]})
        definition = services.definition_draft_create(
            kind=v["kind"],
            name=v["name"],
            rules=v.get("rules"),
            notes=v["notes"],
            based_on=based_on,
            actor=request.user,
        )
        return Response(DefinitionOutputSerializer(definition).data, status=status.HTTP_201_CREATED)


class DefinitionDetailApi(APIView):
    """GET one version; PATCH changes a draft (published and retired versions are immutable)."""

    allowed_roles = api_roles(*ALL_ROLES, integration=True)

    class DefinitionUpdateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        rules = serializers.DictField(required=False)
        notes = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(responses=DefinitionOutputSerializer)
    def get(self, request, pk: int):
        return Response(DefinitionOutputSerializer(get_object_or_404(MqlDefinition, pk=pk)).data)

    @extend_schema(request=DefinitionUpdateInputSerializer, responses=DefinitionOutputSerializer)
    def patch(self, request, pk: int):
        definition = get_object_or_404(MqlDefinition, pk=pk)
        data = self.DefinitionUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        definition = services.definition_draft_update(
            definition=definition, actor=request.user, **data.validated_data
        )
        return Response(DefinitionOutputSerializer(definition).data)


class DefinitionPublishApi(APIView):
    """POST publishes a draft; the previously published version of its kind is retired."""

    allowed_roles = api_roles(*services.PUBLISHER_ROLES)

    @extend_schema(request=None, responses=DefinitionOutputSerializer)
    def post(self, request, pk: int):
        definition = services.definition_publish(
            definition=get_object_or_404(MqlDefinition, pk=pk), actor=request.user
        )
        return Response(DefinitionOutputSerializer(definition).data)


class AttributeMatchSerializer(serializers.Serializer):
    attribute = serializers.CharField()
    expected = serializers.CharField()
    actual = serializers.CharField()
    matched = serializers.BooleanField(allow_null=True)


class FitSerializer(serializers.Serializer):
    score = serializers.IntegerField()
    grade = serializers.CharField()
    matches = AttributeMatchSerializer(many=True)


class EvaluationSerializer(serializers.Serializer):
    definition = serializers.DictField()
    evaluated_at = serializers.DateTimeField()
    qualified = serializers.BooleanField()
    fit_met = serializers.BooleanField()
    behaviour_met = serializers.BooleanField()
    score = serializers.FloatField()
    threshold = serializers.FloatField(allow_null=True)
    conditions = serializers.ListField(child=serializers.DictField())
    score_lines = serializers.ListField(child=serializers.DictField())
    reasons = serializers.ListField(child=serializers.CharField())


class LeadEvaluationOutputSerializer(serializers.Serializer):
    lead_id = serializers.IntegerField()
    stage = serializers.CharField()
    mql_at = serializers.DateTimeField(allow_null=True)
    fit = FitSerializer()
    evaluations = EvaluationSerializer(many=True)
    why_mql = serializers.DictField(allow_null=True)


class LeadEvaluateApi(APIView):
    """GET evaluates a lead now against the published MQL and PQL definitions (or `definition`),
    with its ICP fit and the stored "why MQL". Read-only: qualification happens on ingest."""

    allowed_roles = api_roles(*ALL_ROLES, integration=True)

    class EvaluateFilterSerializer(serializers.Serializer):
        definition = serializers.IntegerField(required=False)

    @extend_schema(
        parameters=[
            OpenApiParameter("definition", int, description="A definition version id (any status)")
        ],
        responses=LeadEvaluationOutputSerializer,
    )
    def get(self, request, lead_id: int):
        # A rep evaluates only their own leads, as on every other lead read.
        lead = get_object_or_404(lead_visible_list(user=request.user), pk=lead_id)
        filters = self.EvaluateFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        if filters.validated_data.get("definition") is not None:
            definitions = [
                get_object_or_404(MqlDefinition, pk=filters.validated_data["definition"])
            ]
        else:
            definitions = list(selectors.definition_active_map().values())
        now = timezone.now()
        evaluations = [
            e
            for d in sorted(definitions, key=lambda d: d.kind)
            if (e := selectors.lead_evaluation(lead=lead, definition=d, now=now)) is not None
        ]
        fit = fit_for_leads(leads=[lead])[lead.pk]
        return Response(
            LeadEvaluationOutputSerializer(
                {
                    "lead_id": lead.pk,
                    "stage": lead.stage,
                    "mql_at": lead.mql_at,
                    "fit": fit,
                    "evaluations": evaluations,
                    "why_mql": selectors.mql_explanation(lead=lead),
                }
            ).data
        )
