"""Compliance API: every commitment's numbers for a period, and the leads behind them.

Who reads what (apps.compliance.selectors.compliance_scope): admins, executives and
leaders everything, and any person's numbers with ``owner=<user id>``; marketers the
marketing and shared commitments; a rep only their own compliance: the rate
metrics measured on the leads they own (``owner`` is always themselves; volume and
pipeline coverage have organization-wide targets and are left out).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.exceptions import DomainError, NotAllowed
from apps.accounts.roles import ALL_ROLES
from apps.compliance import selectors
from apps.compliance.metrics import Outcome, Status
from apps.compliance.periods import PeriodKind
from apps.sla.models import Commitment


class PeriodSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in PeriodKind])
    start = serializers.DateField(source="first_day")
    end = serializers.DateField(source="last_day", help_text="Last day, inclusive")
    starts_at = serializers.DateTimeField(source="start")
    ends_at = serializers.DateTimeField(source="end", help_text="Exclusive")
    label = serializers.CharField()


class PeriodFilterSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=[k.value for k in PeriodKind])
    start = serializers.DateField(help_text="First day of the period (Monday, 1st, quarter start)")
    as_of = serializers.DateTimeField(
        required=False, help_text="ISO-8601; numbers computed live as of this moment"
    )
    owner = serializers.IntegerField(
        required=False, min_value=1, help_text="Only leads this user owns (reps: themselves)"
    )


def _filters(request, serializer_class=PeriodFilterSerializer):
    """Validated filters, the period, and the scope with the owner applied (role checked)."""
    filters = serializer_class(data=request.query_params)
    filters.is_valid(raise_exception=True)
    data = filters.validated_data
    try:
        period = selectors.period_from(data["period"], data["start"])
    except (ValueError, OverflowError) as error:
        raise DomainError(str(error), field="start") from error
    scope = selectors.compliance_scope(request.user)
    owner = data.get("owner")
    if scope.owner_id is not None and owner not in (None, scope.owner_id):
        raise NotAllowed("A rep reads their own compliance only.", field="owner")
    if owner is not None and scope.owner_id is None:
        scope = selectors.ComplianceScope(owner_id=owner, teams=scope.teams, hide_team_only=True)
    return data, period, scope


class ComplianceResultSerializer(serializers.Serializer):
    commitment_id = serializers.IntegerField(source="commitment.pk")
    label = serializers.SerializerMethodField()
    metric = serializers.CharField(source="commitment.metric")
    owner_team = serializers.CharField(source="commitment.owner_team")
    review_period = serializers.CharField(source="commitment.review_period")
    params = serializers.JSONField(source="commitment.params")
    segment = serializers.JSONField(source="commitment.segment")
    sla_version_id = serializers.IntegerField(source="commitment.version_id")
    sla_version_number = serializers.IntegerField(source="commitment.version.number")
    as_of = serializers.DateTimeField()
    source = serializers.ChoiceField(
        choices=["live", "snapshot"], help_text="Computed now, or read from a sweep snapshot"
    )
    frozen = serializers.BooleanField(help_text="The closed period's immutable record")
    value = serializers.FloatField(source="result.value", allow_null=True)
    numerator = serializers.FloatField(source="result.numerator")
    denominator = serializers.FloatField(source="result.denominator")
    target = serializers.FloatField(source="result.target")
    yellow_threshold = serializers.FloatField(source="result.yellow_threshold")
    effective_target = serializers.FloatField(
        source="result.effective_target",
        allow_null=True,
        help_text="mql_volume: the target pro-rated for an open period",
    )
    status = serializers.ChoiceField(choices=[s.value for s in Status], source="result.status")
    pending = serializers.IntegerField(source="result.pending")
    median_hours = serializers.FloatField(
        source="result.median_hours", allow_null=True, help_text="Business hours to first contact"
    )
    p90_hours = serializers.FloatField(source="result.p90_hours", allow_null=True)
    leads = serializers.SerializerMethodField(help_text="Drill-down URLs by outcome")

    def get_label(self, item) -> str:
        return item.commitment.label or item.commitment.get_metric_display()

    def get_leads(self, item) -> dict[str, str]:
        request = self.context["request"]
        url = reverse(
            "api:compliance:commitment_leads", kwargs={"commitment_id": item.commitment.pk}
        )
        query = {"period": item.period.kind.value, "start": item.period.first_day.isoformat()}
        if request.query_params.get("as_of"):
            query["as_of"] = request.query_params["as_of"]
        return {
            outcome.value: request.build_absolute_uri(
                f"{url}?{urlencode({**query, 'outcome': outcome.value})}"
            )
            for outcome in Outcome
        }


class ComplianceOutputSerializer(serializers.Serializer):
    period = PeriodSerializer()
    results = ComplianceResultSerializer(many=True)


class ComplianceListApi(APIView):
    """Every commitment of the SLA version(s) in force during the period, with its numbers.

    Without ``as_of`` an organization-wide request reads the sweep's snapshots (the frozen
    record of a closed period, the latest refresh of an open one); with ``as_of`` every
    number is computed live. For the same moment both give the same numbers.
    """

    allowed_roles = api_roles(*ALL_ROLES)

    @extend_schema(parameters=[PeriodFilterSerializer], responses=ComplianceOutputSerializer)
    def get(self, request):
        data, period, scope = _filters(request)
        results = selectors.compliance_for_period(
            period=period,
            as_of=data.get("as_of"),
            owner_id=scope.owner_id,
            with_outcomes=False,
        )
        results = selectors.results_with_scope(results, scope)
        return Response(
            ComplianceOutputSerializer(
                {"period": period, "results": results}, context={"request": request}
            ).data
        )


class LeadsFilterSerializer(PeriodFilterSerializer):
    outcome = serializers.ChoiceField(choices=[o.value for o in Outcome])


class CommitmentLeadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    name = serializers.CharField(source="full_name")
    email = serializers.EmailField()
    company = serializers.CharField()
    source = serializers.CharField()
    stage = serializers.CharField()
    owner_id = serializers.IntegerField(allow_null=True)
    owner_name = serializers.SerializerMethodField()
    mql_at = serializers.DateTimeField(allow_null=True)
    clock_due_at = serializers.DateTimeField(allow_null=True, required=False, default=None)
    clock_met_at = serializers.DateTimeField(allow_null=True, required=False, default=None)
    url = serializers.SerializerMethodField()

    def get_owner_name(self, lead) -> str | None:
        return (lead.owner.name or lead.owner.email) if lead.owner_id else None

    def get_url(self, lead) -> str:
        try:
            path = reverse("leads:lead_detail", kwargs={"pk": lead.pk})
        except NoReverseMatch:
            path = f"/leads/{lead.pk}/"
        return self.context["request"].build_absolute_uri(path)


class CommitmentLeadsApi(APIView):
    """The leads behind a commitment's number for a period: met, missed or pending (paginated)."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = api_roles(*ALL_ROLES)

    @extend_schema(
        parameters=[LeadsFilterSerializer], responses=CommitmentLeadSerializer(many=True)
    )
    def get(self, request, commitment_id: int):
        data, period, scope = _filters(request, LeadsFilterSerializer)
        commitment = _visible_commitment(commitment_id, scope)
        leads = selectors.commitment_leads(
            commitment=commitment,
            period=period,
            outcome=data["outcome"],
            as_of=data.get("as_of"),
            owner_id=scope.owner_id,
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(leads, request, view=self)
        return paginator.get_paginated_response(
            CommitmentLeadSerializer(page, many=True, context={"request": request}).data
        )


def _visible_commitment(commitment_id: int, scope: selectors.ComplianceScope) -> Commitment:
    commitment = Commitment.objects.select_related("version").filter(pk=commitment_id).first()
    if commitment is None or not scope.admits(commitment):
        raise Http404("No such commitment.")
    return commitment


__all__ = ["CommitmentLeadsApi", "ComplianceListApi"]
