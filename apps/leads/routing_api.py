"""Routing rules by API: list, create, change, reorder and delete (sales leaders and admins).

Rules are evaluated in order; the first active rule whose conditions all hold gives the lead
to the next active person of its pool (round robin); the fallback rule (at most one, no
conditions) takes what no rule matched. Every write goes through the same services as the
routing page (``leads.owners.routing_rule_save`` / ``routing_rules_reorder`` /
``routing_rule_delete``), so the rules, the audit trail and the error messages are the page's.

Pools name people by email; only active reps and sales leaders can be in a pool.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.roles import Role
from apps.accounts.schema import JSON_ONLY, error_responses
from apps.leads import owners, selectors
from apps.leads.models import RoutingRule
from apps.leads.routing import ROUTING_FIELDS, ROUTING_OPS, describe_condition

ROUTING_MANAGERS = api_roles(Role.SALES_LEADER, Role.ADMIN)


class PoolMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.CharField()
    is_active = serializers.BooleanField(help_text="Inactive people are skipped by the rotation")


class ConditionSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=list(ROUTING_FIELDS.items()))
    op = serializers.ChoiceField(choices=list(ROUTING_OPS.items()))
    value = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="Text for equals/not_equals/contains; a list (or comma-separated text) for "
        "in/not_in; a number for gte/lte (company_size, annual_revenue); true/false for is_set",
    )


class RoutingRuleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    position = serializers.IntegerField(help_text="Evaluation order (the fallback runs last)")
    conditions = ConditionSerializer(many=True)
    description = serializers.SerializerMethodField(help_text="The conditions in words")
    pool = PoolMemberSerializer(many=True, source="pool.all")
    is_fallback = serializers.BooleanField()
    is_active = serializers.BooleanField()
    routed_last_30_days = serializers.IntegerField(source="recent")
    created_at = serializers.DateTimeField()

    def get_description(self, rule: RoutingRule) -> list[str]:
        return [describe_condition(condition) for condition in rule.conditions or []]


class RoutingRuleInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    conditions = ConditionSerializer(
        many=True, required=False, help_text="All must hold; none: every lead matches"
    )
    pool = serializers.ListField(
        child=serializers.EmailField(),
        max_length=500,
        help_text="Emails of the active reps and sales leaders who take turns",
    )
    is_fallback = serializers.BooleanField(
        default=False, help_text="Takes every lead no other rule matched; no conditions"
    )
    is_active = serializers.BooleanField(default=True)


class RoutingRuleReorderInputSerializer(serializers.Serializer):
    ordered_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=1000,
        help_text="Every rule's id exactly once, in the new evaluation order",
    )


class RoutingRuleReorderOutputSerializer(serializers.Serializer):
    routing_rules = RoutingRuleOutputSerializer(many=True)


def _rules() -> list[RoutingRule]:
    return selectors.routing_rule_list()


def _rule(pk: int) -> RoutingRule:
    # The rules of an organization are a short list; the selector annotates each with its
    # recent assignments, so one read serves the list and the detail alike.
    for rule in _rules():
        if rule.pk == pk:
            return rule
    raise Http404("No such routing rule.")


def _pool(emails: list[str]) -> list:
    """The pool's people by email; 400 naming `pool` for anyone who cannot take leads."""
    wanted = {email.strip().lower(): email for email in emails}
    people = {
        user.email.lower(): user
        for user in selectors.routing_pool_candidates().filter(email__in=list(wanted))
    }
    unknown = [email for key, email in wanted.items() if key not in people]
    if unknown:
        raise serializers.ValidationError(
            {
                "pool": [
                    f"No active rep or sales leader with email {', '.join(unknown)}: only they "
                    "can take leads."
                ]
            }
        )
    return [people[key] for key in wanted]


class RoutingRuleListApi(APIView):
    """GET the rules in evaluation order (fallback last); POST adds a rule at the end."""

    allowed_roles = ROUTING_MANAGERS
    parser_classes = JSON_ONLY
    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    @extend_schema(responses={200: RoutingRuleOutputSerializer(many=True), **error_responses(404)})
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(_rules(), request, view=self)
        return paginator.get_paginated_response(RoutingRuleOutputSerializer(page, many=True).data)

    @extend_schema(
        request=RoutingRuleInputSerializer,
        responses={201: RoutingRuleOutputSerializer, **error_responses(400, 415)},
    )
    def post(self, request):
        data = RoutingRuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        rule = owners.routing_rule_save(
            rule=None,
            name=v["name"],
            conditions=v.get("conditions", []),
            pool=_pool(v["pool"]),
            is_fallback=v["is_fallback"],
            is_active=v["is_active"],
            actor=request.user,
        )
        return Response(
            RoutingRuleOutputSerializer(_rule(rule.pk)).data, status=status.HTTP_201_CREATED
        )


class RoutingRuleDetailApi(APIView):
    """GET one rule; PATCH changes what is sent (the rest stays); DELETE removes it (past
    assignments keep their record)."""

    allowed_roles = ROUTING_MANAGERS
    parser_classes = JSON_ONLY

    @extend_schema(
        responses={200: RoutingRuleOutputSerializer, **error_responses(404)},
    )
    def get(self, request, pk: int):
        return Response(RoutingRuleOutputSerializer(_rule(pk)).data)

    @extend_schema(
        request=RoutingRuleInputSerializer(partial=True),
        responses={200: RoutingRuleOutputSerializer, **error_responses(400, 404, 415)},
    )
    def patch(self, request, pk: int):
        rule = _rule(pk)
        data = RoutingRuleInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        owners.routing_rule_save(
            rule=rule,
            name=v.get("name", rule.name),
            conditions=v.get("conditions", rule.conditions),
            pool=_pool(v["pool"]) if "pool" in v else list(rule.pool.all()),
            is_fallback=v.get("is_fallback", rule.is_fallback),
            is_active=v.get("is_active", rule.is_active),
            actor=request.user,
        )
        return Response(RoutingRuleOutputSerializer(_rule(pk)).data)

    @extend_schema(
        responses={204: OpenApiResponse(description="Deleted"), **error_responses(404)},
    )
    def delete(self, request, pk: int):
        owners.routing_rule_delete(rule=_rule(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoutingRuleReorderApi(APIView):
    """POST sets the evaluation order of all rules at once.

    409 when `ordered_ids` is not exactly the organization's rules (one was added or deleted
    meanwhile): read them again and retry.
    """

    allowed_roles = ROUTING_MANAGERS
    parser_classes = JSON_ONLY

    @extend_schema(
        request=RoutingRuleReorderInputSerializer,
        responses={200: RoutingRuleReorderOutputSerializer, **error_responses(400, 409, 415)},
    )
    def post(self, request):
        data = RoutingRuleReorderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        owners.routing_rules_reorder(
            ordered_ids=data.validated_data["ordered_ids"], actor=request.user
        )
        return Response(RoutingRuleReorderOutputSerializer({"routing_rules": _rules()}).data)
