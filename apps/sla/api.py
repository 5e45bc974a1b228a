"""SLA API: read contracts and versions, edit drafts, submit, sign with a leader's personal token.

Everyone in the organization (and organization API keys) may read; drafting is
for the marketing leader, the sales leader and admins; signing for the two
leaders, each for their own team; calendars are edited by admins.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.api_fields import BoundedDateField, BoundedDateTimeField
from apps.accounts.models import ApiKey
from apps.accounts.roles import ALL_ROLES, Role
from apps.leads.models import Lead
from apps.mql.models import MqlDefinition
from apps.sla import selectors, services
from apps.sla.agreement_templates import TEMPLATES
from apps.sla.models import (
    BusinessCalendar,
    Commitment,
    EscalationRule,
    Metric,
    ReviewPeriod,
    SlaContract,
    SlaVersion,
    Team,
)

READERS = api_roles(*ALL_ROLES, integration=True)
DRAFTERS = api_roles(Role.MARKETING_LEADER, Role.SALES_LEADER, Role.ADMIN)
SIGNERS = api_roles(Role.MARKETING_LEADER, Role.SALES_LEADER)
ADMINS = api_roles(Role.ADMIN)


class ReadWriteRoles:
    """Reads for `read_roles`, writes for `write_roles`: one URL, two audiences."""

    read_roles = READERS
    write_roles = DRAFTERS

    @property
    def allowed_roles(self):
        return self.read_roles if self.request.method in SAFE_METHODS else self.write_roles


# --- output -----------------------------------------------------------------------------


class CommitmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    owner_team = serializers.CharField()
    metric = serializers.CharField()
    params = serializers.JSONField()
    target = serializers.FloatField()
    yellow_threshold = serializers.FloatField()
    review_period = serializers.CharField()
    segment = serializers.JSONField()
    label = serializers.CharField()
    sentence = serializers.SerializerMethodField()

    def get_sentence(self, commitment) -> str:
        return selectors.commitment_sentence(commitment)


class EscalationRuleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    commitment = serializers.IntegerField(source="commitment_id")
    threshold = serializers.FloatField()
    periods = serializers.IntegerField()
    period_kind = serializers.CharField()
    notify_role = serializers.CharField()


class SignatureOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    signer = serializers.IntegerField(source="signer_id")
    signer_name = serializers.CharField(source="signer.name")
    role = serializers.CharField()
    team = serializers.CharField()
    signed_at = serializers.DateTimeField()
    ip_address = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField()
    channel = serializers.CharField()
    content_hash = serializers.CharField()
    round = serializers.IntegerField()
    sequence = serializers.IntegerField(allow_null=True, help_text="place in the signature chain")
    key_id = serializers.CharField()
    mac = serializers.CharField(help_text="HMAC-SHA256 over the signature and the previous one")
    withdrawn = serializers.BooleanField(source="is_withdrawn")


class VersionSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    contract = serializers.IntegerField(source="contract_id")
    number = serializers.IntegerField()
    status = serializers.CharField()
    effective_at = serializers.DateTimeField(allow_null=True)
    superseded_at = serializers.DateTimeField(allow_null=True)
    review_date = serializers.DateField(allow_null=True)
    content_hash = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)
    based_on = serializers.IntegerField(source="based_on_id", allow_null=True)
    signing_round = serializers.IntegerField()
    phase = serializers.SerializerMethodField(
        help_text="in_force, scheduled, ended, never, draft or awaiting"
    )
    outdated_by = serializers.SerializerMethodField(
        help_text="id of the version signed after this one's base: it can no longer be signed"
    )

    def get_phase(self, version) -> str:
        return selectors.version_phase(version).key

    def get_outdated_by(self, version) -> int | None:
        newer = selectors.version_outdated_by(version)
        return newer.pk if newer else None


class VersionOutputSerializer(VersionSummarySerializer):
    purpose = serializers.CharField()
    calendar = serializers.IntegerField(source="calendar_id", allow_null=True)
    calendar_snapshot = serializers.JSONField()
    mql_definition = serializers.IntegerField(source="mql_definition_id", allow_null=True)
    commitments = CommitmentOutputSerializer(many=True)
    escalation_rules = EscalationRuleOutputSerializer(many=True)
    signatures = SignatureOutputSerializer(many=True)


class ContractOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()


class CalendarOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    timezone = serializers.CharField()
    week = serializers.JSONField()
    holiday_country = serializers.CharField()
    holiday_subdivision = serializers.CharField()
    closed_dates = serializers.JSONField()
    is_default = serializers.BooleanField()


def _version(pk: int) -> SlaVersion:
    return get_object_or_404(selectors.version_detail_queryset(), pk=pk)


def _version_data(pk: int) -> dict:
    return VersionOutputSerializer(_version(pk)).data


def _paginated(request, view, queryset, serializer):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


# --- contracts -------------------------------------------------------------------------


class ContractListApi(ReadWriteRoles, APIView):
    """GET the organization's SLA contracts; POST creates one (drafters)."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    class ContractCreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)

    @extend_schema(responses=ContractOutputSerializer(many=True))
    def get(self, request):
        return _paginated(request, self, selectors.contract_list(), ContractOutputSerializer)

    @extend_schema(request=ContractCreateInputSerializer, responses={201: ContractOutputSerializer})
    def post(self, request):
        data = self.ContractCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contract = services.contract_create(actor=request.user, name=data.validated_data["name"])
        return Response(ContractOutputSerializer(contract).data, status=status.HTTP_201_CREATED)


# --- versions ----------------------------------------------------------------------------


class VersionListApi(ReadWriteRoles, APIView):
    """GET versions (filter by contract or status); POST creates a draft — blank, from a
    template, or as an amendment of an existing version (`from_version`)."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    class VersionFilterSerializer(serializers.Serializer):
        contract = serializers.IntegerField(required=False)
        status = serializers.CharField(required=False)

    class VersionCreateInputSerializer(serializers.Serializer):
        contract = serializers.IntegerField(required=False)
        template = serializers.ChoiceField(choices=sorted(TEMPLATES), required=False)
        from_version = serializers.IntegerField(required=False)

    @extend_schema(
        parameters=[VersionFilterSerializer], responses=VersionSummarySerializer(many=True)
    )
    def get(self, request):
        filters = self.VersionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.version_list()
        if "contract" in filters.validated_data:
            qs = qs.filter(contract_id=filters.validated_data["contract"])
        if "status" in filters.validated_data:
            qs = qs.filter(status=filters.validated_data["status"])
        return _paginated(request, self, qs, VersionSummarySerializer)

    @extend_schema(request=VersionCreateInputSerializer, responses={201: VersionOutputSerializer})
    def post(self, request):
        data = self.VersionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        contract = None
        if "contract" in v:
            contract = SlaContract.objects.filter(pk=v["contract"]).first()
            if contract is None:
                raise serializers.ValidationError({"contract": ["No such contract."]})
        source = None
        if "from_version" in v:
            source = SlaVersion.objects.filter(pk=v["from_version"]).first()
            if source is None:
                raise serializers.ValidationError({"from_version": ["No such version."]})
        version = services.version_create(
            actor=request.user,
            contract=contract,
            template_key=v.get("template"),
            from_version=source,
            channel="api",
        )
        return Response(_version_data(version.pk), status=status.HTTP_201_CREATED)


class VersionActiveApi(APIView):
    """GET the version in force now (404 when none is)."""

    allowed_roles = READERS

    @extend_schema(responses=VersionOutputSerializer)
    def get(self, request):
        active = selectors.active_version()
        if active is None:
            return Response({"detail": "No SLA version is in force."}, status=404)
        return Response(_version_data(active.pk))


class VersionDetailApi(ReadWriteRoles, APIView):
    """GET one version with its commitments, escalation rules and signatures; PATCH a draft."""

    class VersionUpdateInputSerializer(serializers.Serializer):
        purpose = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        calendar = serializers.IntegerField(required=False)
        mql_definition = serializers.IntegerField(required=False, allow_null=True)
        effective_at = BoundedDateTimeField(required=False)
        review_date = BoundedDateField(required=False, allow_null=True)

    @extend_schema(responses=VersionOutputSerializer)
    def get(self, request, pk: int):
        return Response(_version_data(pk))

    @extend_schema(request=VersionUpdateInputSerializer, responses=VersionOutputSerializer)
    def patch(self, request, pk: int):
        version = _version(pk)
        data = self.VersionUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "calendar" in changes:
            changes["calendar"] = BusinessCalendar.objects.filter(pk=changes["calendar"]).first()
            if changes["calendar"] is None:
                raise serializers.ValidationError({"calendar": ["No such calendar."]})
        if changes.get("mql_definition") is not None:
            definition = MqlDefinition.objects.filter(pk=changes["mql_definition"]).first()
            if definition is None:
                raise serializers.ValidationError({"mql_definition": ["No such definition."]})
            changes["mql_definition"] = definition
        services.version_update(version=version, actor=request.user, channel="api", **changes)
        return Response(_version_data(pk))


class CommitmentInputSerializer(serializers.Serializer):
    owner_team = serializers.ChoiceField(choices=Team.choices)
    metric = serializers.ChoiceField(choices=Metric.choices)
    params = serializers.JSONField(required=False, default=dict)
    target = serializers.FloatField()
    yellow_threshold = serializers.FloatField()
    review_period = serializers.ChoiceField(choices=ReviewPeriod.choices, default="week")
    segment = serializers.JSONField(required=False, default=list)
    label = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class CommitmentCreateApi(APIView):
    """POST adds a commitment to a draft (a submitted version returns to draft)."""

    allowed_roles = DRAFTERS

    @extend_schema(request=CommitmentInputSerializer, responses={201: VersionOutputSerializer})
    def post(self, request, pk: int):
        version = _version(pk)
        data = CommitmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.commitment_add(
            version=version, actor=request.user, channel="api", **data.validated_data
        )
        return Response(_version_data(pk), status=status.HTTP_201_CREATED)


class CommitmentDetailApi(APIView):
    """PATCH changes a draft's commitment; DELETE removes it."""

    allowed_roles = DRAFTERS

    def _get(self, pk: int, commitment_pk: int) -> Commitment:
        return get_object_or_404(
            Commitment.objects.select_related("version"), pk=commitment_pk, version_id=pk
        )

    @extend_schema(
        request=CommitmentInputSerializer(partial=True), responses=VersionOutputSerializer
    )
    def patch(self, request, pk: int, commitment_pk: int):
        commitment = self._get(pk, commitment_pk)
        data = CommitmentInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        services.commitment_update(
            commitment=commitment, actor=request.user, channel="api", **changes
        )
        return Response(_version_data(pk))

    @extend_schema(responses=VersionOutputSerializer)
    def delete(self, request, pk: int, commitment_pk: int):
        commitment = self._get(pk, commitment_pk)
        services.commitment_remove(commitment=commitment, actor=request.user, channel="api")
        return Response(_version_data(pk))


class EscalationInputSerializer(serializers.Serializer):
    commitment = serializers.IntegerField()
    threshold = serializers.FloatField()
    periods = serializers.IntegerField(min_value=1, max_value=52, default=2)
    period_kind = serializers.ChoiceField(choices=ReviewPeriod.choices, default="week")
    notify_role = serializers.CharField(default="executive")


class EscalationRuleCreateApi(APIView):
    """POST adds an escalation rule: below `threshold` for `periods` closed periods → notify."""

    allowed_roles = DRAFTERS

    @extend_schema(request=EscalationInputSerializer, responses={201: VersionOutputSerializer})
    def post(self, request, pk: int):
        version = _version(pk)
        data = EscalationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        commitment = Commitment.objects.filter(pk=values.pop("commitment"), version=version).first()
        if commitment is None:
            raise serializers.ValidationError(
                {"commitment": ["No such commitment in this version."]}
            )
        services.escalation_rule_add(
            version=version, actor=request.user, commitment=commitment, channel="api", **values
        )
        return Response(_version_data(pk), status=status.HTTP_201_CREATED)


class EscalationRuleDetailApi(APIView):
    """PATCH changes an escalation rule of a draft; DELETE removes it."""

    allowed_roles = DRAFTERS

    def _get(self, pk: int, rule_pk: int) -> EscalationRule:
        return get_object_or_404(
            EscalationRule.objects.select_related("version", "commitment"),
            pk=rule_pk,
            version_id=pk,
        )

    @extend_schema(
        request=EscalationInputSerializer(partial=True), responses=VersionOutputSerializer
    )
    def patch(self, request, pk: int, rule_pk: int):
        rule = self._get(pk, rule_pk)
        data = EscalationInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        if "commitment" in changes:
            changes["commitment"] = Commitment.objects.filter(
                pk=changes["commitment"], version_id=pk
            ).first()
            if changes["commitment"] is None:
                raise serializers.ValidationError(
                    {"commitment": ["No such commitment in this version."]}
                )
        services.escalation_rule_update(rule=rule, actor=request.user, channel="api", **changes)
        return Response(_version_data(pk))

    @extend_schema(responses=VersionOutputSerializer)
    def delete(self, request, pk: int, rule_pk: int):
        services.escalation_rule_remove(
            rule=self._get(pk, rule_pk), actor=request.user, channel="api"
        )
        return Response(_version_data(pk))


class VersionSubmitApi(APIView):
    """POST freezes the calendar, hashes the content and asks both leaders to sign."""

    allowed_roles = DRAFTERS

    @extend_schema(request=None, responses=VersionOutputSerializer)
    def post(self, request, pk: int):
        services.version_submit(version=_version(pk), actor=request.user, channel="api")
        return Response(_version_data(pk))


class VersionSignApi(APIView):
    """POST signs for the caller's team (channel "api"), with a fresh proof that it is them.

    Send the `content_hash` you reviewed (refused if the version changed since) and
    either your `password`, or call with a personal token that has the `sign` scope and
    was created in the last SIGNING_PROOF_MAX_AGE_MINUTES minutes. `team`, when given,
    must be the caller's own team. An outdated version (another was signed after the one
    it was drafted from) is refused with 409.
    """

    allowed_roles = SIGNERS
    required_scopes = ("sign", "write")

    class VersionSignInputSerializer(serializers.Serializer):
        content_hash = serializers.RegexField(
            r"^[0-9a-f]{64}$",
            help_text="SHA-256 of the content you reviewed (the version's `content_hash`)",
            error_messages={"invalid": "Send the 64-character hex content hash you reviewed."},
        )
        password = serializers.CharField(
            required=False, max_length=200, trim_whitespace=False, write_only=True
        )
        team = serializers.ChoiceField(choices=[Team.MARKETING, Team.SALES], required=False)

    @extend_schema(
        request=VersionSignInputSerializer,
        responses={201: SignatureOutputSerializer},
    )
    def post(self, request, pk: int):
        version = _version(pk)
        data = self.VersionSignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signature = services.version_sign(
            version=version,
            actor=request.user,
            channel="api",
            content_hash=data.validated_data["content_hash"],
            password=data.validated_data.get("password"),
            token=request.auth if isinstance(request.auth, ApiKey) else None,
            team=data.validated_data.get("team"),
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(SignatureOutputSerializer(signature).data, status=status.HTTP_201_CREATED)


class ProblemSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=selectors.PROBLEM_CODES)
    message = serializers.CharField()
    signature = serializers.IntegerField(allow_null=True)


class SignatureCheckSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sequence = serializers.IntegerField(allow_null=True)
    team = serializers.CharField()
    round = serializers.IntegerField()
    key_id = serializers.CharField()
    content_hash = serializers.CharField()
    withdrawn = serializers.BooleanField()
    matches = serializers.BooleanField(help_text="signed the content as it hashes now")
    authentic = serializers.BooleanField(allow_null=True, help_text="its MAC verifies")
    linked = serializers.BooleanField(help_text="it follows the signature before it")


class VerificationOutputSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    computed_hash = serializers.CharField()
    stored_hash = serializers.CharField()
    is_intact = serializers.BooleanField()
    sealed = serializers.BooleanField()
    problems = ProblemSerializer(many=True)
    signatures = SignatureCheckSerializer(many=True)


class VersionVerifyApi(APIView):
    """GET checks the version's evidence: recomputes the SHA-256 of its canonical content,
    the HMAC seal of its sign-off state, and each signature's HMAC and link in the
    organization's signature chain. `is_intact` is false when anything is off; `problems`
    says what and which signature (codes: content_changed, seal_broken, not_sealed,
    unknown_key, signature_altered, signature_added, signature_missing, chain_broken,
    key_out_of_order, superseded_without_successor)."""

    allowed_roles = READERS

    @extend_schema(responses=VerificationOutputSerializer)
    def get(self, request, pk: int):
        version = _version(pk)
        result = selectors.version_verify(version=version)
        return Response(
            {
                "version": version.pk,
                "computed_hash": result.computed_hash,
                "stored_hash": result.stored_hash,
                "is_intact": result.is_intact,
                "sealed": result.sealed,
                "problems": [
                    {"code": p.code, "message": p.message, "signature": p.signature}
                    for p in result.problems
                ],
                "signatures": [
                    {
                        "id": check.signature.pk,
                        "sequence": check.signature.sequence,
                        "team": check.signature.team,
                        "round": check.signature.round,
                        "key_id": check.signature.key_id,
                        "content_hash": check.signature.content_hash,
                        "withdrawn": not check.live,
                        "matches": check.matches,
                        "authentic": check.authentic,
                        "linked": check.linked,
                    }
                    for check in result.signatures
                ],
            }
        )


class VersionContentApi(APIView):
    """GET the canonical content that is hashed, so anyone can verify the hash themselves."""

    allowed_roles = READERS

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return Response(selectors.version_content(_version(pk)))


class ChangeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    summary = serializers.CharField()
    detail = serializers.JSONField()
    author = serializers.IntegerField(source="author_id", allow_null=True)
    channel = serializers.CharField()
    changed_at = serializers.DateTimeField()


class VersionChangeListApi(APIView):
    """GET the version's change log (every edit with its author, the sign-off steps)."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = READERS

    @extend_schema(responses=ChangeOutputSerializer(many=True))
    def get(self, request, pk: int):
        version = get_object_or_404(SlaVersion, pk=pk)
        return _paginated(
            request, self, selectors.version_changes(version=version), ChangeOutputSerializer
        )


class TemplateOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    summary = serializers.CharField()
    purpose = serializers.CharField()
    commitments = serializers.ListField(child=serializers.DictField())
    escalations = serializers.ListField(child=serializers.DictField())


class TemplateListApi(APIView):
    """GET the templates a draft can start from (a short fixed list, not paginated)."""

    allowed_roles = READERS

    @extend_schema(responses=TemplateOutputSerializer(many=True))
    def get(self, request):
        return Response(
            [
                {
                    "key": t.key,
                    "name": t.name,
                    "summary": t.summary,
                    "purpose": t.purpose,
                    "commitments": list(t.commitments),
                    "escalations": list(t.escalations),
                }
                for t in TEMPLATES.values()
            ]
        )


# --- calendars ----------------------------------------------------------------------------


class CalendarInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    timezone = serializers.CharField(max_length=64, default="UTC")
    week = serializers.JSONField(required=False)
    holiday_country = serializers.CharField(required=False, allow_blank=True, default="")
    holiday_subdivision = serializers.CharField(required=False, allow_blank=True, default="")
    closed_dates = serializers.ListField(child=BoundedDateField(), required=False, default=list)
    is_default = serializers.BooleanField(required=False, default=False)


class CalendarListApi(ReadWriteRoles, APIView):
    """GET business calendars; POST creates one (admins)."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    write_roles = ADMINS

    @extend_schema(responses=CalendarOutputSerializer(many=True))
    def get(self, request):
        return _paginated(request, self, selectors.calendar_list(), CalendarOutputSerializer)

    @extend_schema(request=CalendarInputSerializer, responses={201: CalendarOutputSerializer})
    def post(self, request):
        data = CalendarInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        calendar = services.calendar_create(
            actor=request.user,
            name=v["name"],
            timezone_name=v["timezone"],
            week=v.get("week"),
            holiday_country=v["holiday_country"],
            holiday_subdivision=v["holiday_subdivision"],
            closed_dates=v["closed_dates"],
            is_default=v["is_default"],
        )
        return Response(CalendarOutputSerializer(calendar).data, status=status.HTTP_201_CREATED)


class CalendarDetailApi(ReadWriteRoles, APIView):
    """GET one calendar; PATCH changes it (admins). Submitted versions keep their frozen copy."""

    write_roles = ADMINS

    @extend_schema(responses=CalendarOutputSerializer)
    def get(self, request, pk: int):
        return Response(CalendarOutputSerializer(get_object_or_404(BusinessCalendar, pk=pk)).data)

    @extend_schema(
        request=CalendarInputSerializer(partial=True), responses=CalendarOutputSerializer
    )
    def patch(self, request, pk: int):
        calendar = get_object_or_404(BusinessCalendar, pk=pk)
        data = CalendarInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        given = set(request.data)
        calendar = services.calendar_update(
            calendar=calendar,
            actor=request.user,
            name=v["name"] if "name" in given else calendar.name,
            timezone_name=v["timezone"] if "timezone" in given else calendar.timezone,
            week=v["week"] if "week" in given else calendar.week,
            holiday_country=v["holiday_country"]
            if "holiday_country" in given
            else calendar.holiday_country,
            holiday_subdivision=v["holiday_subdivision"]
            if "holiday_subdivision" in given
            else calendar.holiday_subdivision,
            closed_dates=v["closed_dates"] if "closed_dates" in given else calendar.closed_dates,
            is_default=v["is_default"] if "is_default" in given else None,
        )
        return Response(CalendarOutputSerializer(calendar).data)


# --- clocks -------------------------------------------------------------------------------


class ClockOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lead = serializers.IntegerField(source="lead_id")
    mql_event = serializers.IntegerField(source="mql_event_id")
    commitment = serializers.IntegerField(source="commitment_id")
    sla_version = serializers.IntegerField(source="sla_version_id")
    kind = serializers.CharField()
    started_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    met_at = serializers.DateTimeField(allow_null=True)
    breached_at = serializers.DateTimeField(allow_null=True)
    state = serializers.CharField()


class LeadClockListApi(APIView):
    """GET a lead's SLA clocks (due times computed once, at MQL time)."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = READERS

    @extend_schema(responses=ClockOutputSerializer(many=True))
    def get(self, request, lead_pk: int):
        leads = Lead.objects.all()
        if getattr(request.user, "role", None) == Role.REP:
            # A rep works their own queue: other reps' leads are not theirs to read.
            leads = leads.filter(owner_id=request.user.pk)
        lead = get_object_or_404(leads, pk=lead_pk)
        return _paginated(request, self, selectors.lead_clocks(lead=lead), ClockOutputSerializer)
