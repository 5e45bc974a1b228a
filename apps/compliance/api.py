"""Compliance API: every commitment kind's numbers for a period, and the leads behind them.

Who reads what (apps.compliance.selectors.compliance_scope): admins, executives and
leaders everything, and any person's numbers with ``owner=<user id>``; marketers the
marketing and shared commitments; a rep only their own compliance: the rate
metrics measured on the leads they own (``owner`` is always themselves; volume and
pipeline coverage have organization-wide targets and are left out).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.http import Http404
from django.urls import NoReverseMatch, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.exceptions import DomainError, NotAllowed
from apps.accounts.roles import ALL_ROLES
from apps.compliance import kind_selectors, selectors
from apps.compliance.metrics import Metric, Outcome, Status
from apps.compliance.periods import PeriodKind
from apps.sla.models import Commitment


class PeriodSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in PeriodKind])
    start = serializers.DateField(source="first_day")
    end = serializers.DateField(source="last_day", help_text="Last day, inclusive")
    starts_at = serializers.DateTimeField(source="start")
    ends_at = serializers.DateTimeField(source="end", help_text="Exclusive")
    label = serializers.CharField()


AS_OF_FORMAT = (
    "YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM], e.g. 2026-11-16T09:00:00Z or 2026-11-16T09:00+02:00"
)
# "+02:00" sent unencoded in a query string arrives as " 02:00" (a "+" means a space there).
_SPACED_OFFSET = re.compile(
    r"^(?P<moment>\S+[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (?P<offset>\d{2}:?\d{2})$"
)


@extend_schema_field(OpenApiTypes.STR)
class AsOfField(serializers.Field):
    """An instant in ISO 8601: ``Z`` or an offset; an unencoded ``+HH:MM`` (which arrives as a
    space) is read as the offset it was; no offset means the organization's time zone."""

    default_error_messages = {
        "invalid": f"Enter a date and time as {AS_OF_FORMAT} (encode “+” as %2B, or use Z)."
    }

    def to_internal_value(self, data) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        spaced = _SPACED_OFFSET.match(text)
        if spaced:
            text = f"{spaced['moment']}+{spaced['offset']}"
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail("invalid")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(selectors.organization_timezone()))
        return moment

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


REVIEW_PERIODS = [*(k.value for k in PeriodKind), "all"]


class PeriodFilterSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=[k.value for k in PeriodKind])
    start = serializers.DateField(
        help_text="Any day of the period: the week (Monday to Sunday), month or quarter "
        "containing it is scored"
    )
    as_of = AsOfField(
        required=False,
        help_text=f"Numbers computed live as of this instant: {AS_OF_FORMAT}; without an "
        "offset, the organization's time zone",
    )
    owner = serializers.IntegerField(
        required=False, min_value=1, help_text="Only leads this user owns (reps: themselves)"
    )


class ComplianceFilterSerializer(PeriodFilterSerializer):
    review_period = serializers.ChoiceField(
        choices=REVIEW_PERIODS,
        required=False,
        help_text="Score the commitments reviewed per this period (default: the period asked "
        "for); 'all' scores every commitment over the period asked for",
    )
    commitment = serializers.CharField(
        required=False,
        max_length=120,
        help_text="Only this commitment kind, scored over the period asked for: a commitment "
        "id or a kind such as sales.first_contact_time",
    )


def _filters(request, serializer_class=PeriodFilterSerializer):
    """Validated filters, the period, and the scope with the owner applied (role checked)."""
    filters = serializer_class(data=request.query_params)
    filters.is_valid(raise_exception=True)
    data = filters.validated_data
    try:
        period = selectors.period_containing(data["period"], data["start"])
    except (ValueError, OverflowError) as error:
        raise DomainError(str(error), field="start") from error
    scope = selectors.compliance_scope(request.user)
    owner = data.get("owner")
    if scope.owner_id is not None and owner not in (None, scope.owner_id):
        raise NotAllowed("A rep reads their own compliance only.", field="owner")
    if owner is not None and scope.owner_id is None:
        scope = selectors.ComplianceScope(owner_id=owner, teams=scope.teams, hide_team_only=True)
    return data, period, scope


class SlaVersionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()


def _is_count(item) -> bool:
    return item.commitment.metric != Metric.PIPELINE_COVERAGE


class ComplianceResultSerializer(serializers.Serializer):
    kind = serializers.CharField(
        source="kind.key",
        help_text="The commitment kind: <owner team>.<metric> (.2 for a version's second one); "
        "one result per kind, whatever the SLA versions in force during the period",
    )
    commitment_id = serializers.IntegerField(
        source="commitment.pk", help_text="The kind's commitment in the newest version"
    )
    commitment_ids = serializers.SerializerMethodField(
        help_text="The kind's commitment in each version in force during the period"
    )
    label = serializers.SerializerMethodField()
    metric = serializers.CharField(source="commitment.metric")
    owner_team = serializers.CharField(source="commitment.owner_team")
    review_period = serializers.CharField(source="commitment.review_period")
    params = serializers.JSONField(source="commitment.params")
    segment = serializers.JSONField(source="commitment.segment")
    sla_version_id = serializers.IntegerField(
        source="commitment.version_id", help_text="The newest version holding the kind"
    )
    sla_version_number = serializers.IntegerField(source="commitment.version.number")
    sla_versions = serializers.SerializerMethodField(
        help_text="The SLA versions the figure was measured under (in force during the period "
        "up to as_of, or judging some of its MQLs), oldest first"
    )
    as_of = serializers.DateTimeField()
    source = serializers.ChoiceField(
        choices=["live", "snapshot"], help_text="Computed now, or read from a sweep snapshot"
    )
    frozen = serializers.BooleanField(help_text="The closed period's immutable record")
    value = serializers.SerializerMethodField(
        help_text="Rates 0-1; mql_volume the number of MQLs (an integer); pipeline_coverage "
        "a ratio (3.0 = 3x); null when there is nothing to measure"
    )
    numerator = serializers.SerializerMethodField(
        help_text="Rates: MQLs that met it; mql_volume: MQLs (integers). pipeline_coverage: "
        "the open opportunity amount"
    )
    denominator = serializers.SerializerMethodField(
        help_text="Rates: MQLs met + missed (an integer; pending ones are left out); "
        "mql_volume: null (its target is effective_target); pipeline_coverage: the revenue target"
    )
    target = serializers.FloatField(
        source="result.target",
        help_text="For the whole period, weighted by the time each SLA version was in force: "
        "a rate's average, a volume's sum pro rata",
    )
    yellow_threshold = serializers.FloatField(source="result.yellow_threshold")
    effective_target = serializers.FloatField(
        source="result.effective_target",
        allow_null=True,
        help_text="mql_volume: the target pro-rated to as_of (the time each version was in "
        "force up to as_of ÷ the review period's length); the status compares the count "
        "with it. Rates: equal to target",
    )
    status = serializers.ChoiceField(choices=[s.value for s in Status], source="result.status")
    pending = serializers.IntegerField(source="result.pending")
    median_hours = serializers.FloatField(
        source="result.median_hours",
        allow_null=True,
        help_text="first_contact_time: median business hours from MQL to first contact over "
        "the MQLs contacted by as_of, by linear interpolation between closest ranks "
        "(PostgreSQL percentile_cont)",
    )
    p90_hours = serializers.FloatField(
        source="result.p90_hours",
        allow_null=True,
        help_text="first_contact_time: 90th percentile of the same hours, same method",
    )
    leads = serializers.SerializerMethodField(help_text="Drill-down URLs by outcome")

    def get_label(self, item) -> str:
        return item.commitment.label or item.commitment.get_metric_display()

    def get_commitment_ids(self, item) -> list[int]:
        return [c.pk for c in item.kind.commitments]

    @extend_schema_field(SlaVersionRefSerializer(many=True))
    def get_sla_versions(self, item) -> list[dict]:
        numbers = set(item.result.versions)
        return [
            {"id": version.pk, "number": version.number}
            for version in item.kind.versions
            if version.number in numbers
        ]

    @extend_schema_field(OpenApiTypes.NUMBER)
    def get_value(self, item) -> float | int | None:
        value = item.result.value
        if value is not None and item.commitment.metric == Metric.MQL_VOLUME:
            return int(value)
        return value

    @extend_schema_field(OpenApiTypes.NUMBER)
    def get_numerator(self, item) -> float | int:
        numerator = item.result.numerator
        return int(numerator) if _is_count(item) else numerator

    @extend_schema_field(OpenApiTypes.NUMBER)
    def get_denominator(self, item) -> float | int | None:
        if item.commitment.metric == Metric.MQL_VOLUME:
            return None
        denominator = item.result.denominator
        return int(denominator) if _is_count(item) else denominator

    def get_leads(self, item) -> dict[str, str]:
        request = self.context["request"]
        url = reverse(
            "api:compliance:commitment_leads", kwargs={"commitment_id": item.commitment.pk}
        )
        query = {"period": item.period.kind.value, "start": item.period.first_day.isoformat()}
        if request.query_params.get("as_of"):
            query["as_of"] = serializers.DateTimeField().to_representation(item.as_of)
        return {
            outcome.value: request.build_absolute_uri(
                f"{url}?{urlencode({**query, 'outcome': outcome.value})}"
            )
            for outcome in Outcome
        }


class ComplianceOutputSerializer(serializers.Serializer):
    period = PeriodSerializer()
    results = ComplianceResultSerializer(many=True)


def _kinds(data, period):
    """The commitment kinds a request asks for: one (``commitment``), those reviewed per
    ``review_period`` (default: the period asked for), or all."""
    wanted, as_of = data.get("commitment"), data.get("as_of")
    if wanted:
        if wanted.isdigit():
            commitment = Commitment.objects.select_related("version").filter(pk=int(wanted)).first()
            if commitment is None or not commitment.version.is_signed:
                raise DomainError(f"No signed commitment has the id {wanted}.", field="commitment")
            return [kind_selectors.kind_of(commitment=commitment, period=period, as_of=as_of)]
        try:
            kind = kind_selectors.kind_by_key(key=wanted, period=period, as_of=as_of)
        except ValueError as error:
            raise DomainError(str(error), field="commitment") from error
        return [kind] if kind is not None else []
    review = data.get("review_period", period.kind.value)
    return kind_selectors.commitment_kinds(
        period=period, review_period=None if review == "all" else review, as_of=as_of
    )


class ComplianceListApi(APIView):
    """One figure per commitment kind for the period, from the SLA version(s) in force during it.

    The commitments reviewed per the period asked for (weekly ones for ``period=week``);
    ``review_period=all`` or ``commitment=`` asks for others, scored over that same period
    (a volume target then scaled to the period's length). A period under two SLA versions
    gives each kind once: every MQL judged under its own version's commitment, targets
    weighted by the time each version was in force, ``sla_versions`` naming them.
    Without ``as_of`` an organization-wide request reads the sweep's snapshots (the frozen
    record of a closed period, the latest refresh of an open one); with ``as_of`` every
    number is computed live. For the same moment both give the same numbers.
    """

    allowed_roles = api_roles(*ALL_ROLES)

    @extend_schema(parameters=[ComplianceFilterSerializer], responses=ComplianceOutputSerializer)
    def get(self, request):
        data, period, scope = _filters(request, ComplianceFilterSerializer)
        kinds = [k for k in _kinds(data, period) if scope.admits(k.commitment)]
        results = selectors.compliance_for_period(
            period=period,
            as_of=data.get("as_of"),
            owner_id=scope.owner_id,
            with_outcomes=False,
            kinds=kinds,
        )
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
    """The leads behind a commitment kind's number for a period: met, missed or pending
    (paginated). The id of any version's commitment of the kind lists the MQLs of every
    version in force during the period, as the figure counts them."""

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
